/**
 * What the server process does to itself, in gunicorn's order: checks the process settings,
 * takes its title, writes the pidfile before binding, creates unix sockets under --umask and
 * gives them (and the log files) to --user/--group, then switches to that user. The workers are
 * spawned after that, so they inherit the user.
 */
import type { Config } from '../config/settings';
import { ExitCode, NodicornError } from '../errors';
import type { Logger } from '../log/logger';
import { Pidfile } from './pidfile';
import { stacksDir } from '../workers/stacks';
import { chownTo, dropPrivileges, resolveIdentity, type Identity } from './privileges';

/** Node's net listen takes `reusePort` (SO_REUSEPORT) from 22.12 and 23.1. */
export function canReusePort(version: string = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}

export class MasterProcess {
  private pidfile: Pidfile | null = null;
  readonly reusePort: boolean;

  private constructor(
    private readonly config: Config,
    private readonly identity: Identity | null,
    private readonly log: Logger,
  ) {
    this.reusePort = config.reusePort && canReusePort();
  }

  /** Checks the settings (throws ConfigError), takes the process title, and warns about what cannot apply here. */
  static prepare(config: Config, log: Logger, reexeced: boolean, role = ''): MasterProcess {
    const identity = resolveIdentity(config.user, config.group);
    // gunicorn's ".2" marks the new master of a USR2 until the old one is gone.
    if (role) setProcessTitle(config, role);
    else setMasterTitle(config, reexeced ? '.2' : '');
    if (config.reusePort && !canReusePort()) log.warning(`--reuse-port: Node ${process.versions.node} cannot set SO_REUSEPORT (Node 22.12+ can); ignored`);
    return new MasterProcess(config, identity, log);
  }

  /**
   * Before binding, as gunicorn: a second server on the same pidfile stops here. A master
   * started by USR2 (`reexeced`) writes PIDFILE.2 while the old one still runs, as gunicorn 27's.
   */
  writePidfile(reexeced: boolean): void {
    if (this.config.pidfile !== null) this.pidfile = Pidfile.create(reexeced ? `${this.config.pidfile}.2` : this.config.pidfile);
  }

  /** The old master is gone (USR2 then TERM): this one takes the pidfile's own name and its title. */
  promoted(): void {
    setMasterTitle(this.config);
    if (this.pidfile === null || this.config.pidfile === null) return;
    try {
      this.pidfile = this.pidfile.moveTo(this.config.pidfile);
    } catch (err) {
      this.log.warning(`cannot move the pidfile to ${this.config.pidfile}: ${(err as Error).message}`);
    }
  }

  /** Runs `bind` (which must create its socket synchronously) under --umask. */
  withUmask<T>(bind: () => T): T {
    const previous = process.umask(this.config.umask & 0o777);
    try {
      return bind();
    } finally {
      process.umask(previous);
    }
  }

  /** Once every socket is bound: hands the unix sockets and the log files to the new owner, and switches to it. */
  settle(unixSockets: string[]): void {
    const identity = this.identity;
    if (identity !== null) {
      const logFiles = [this.config.errorLogfile, this.config.accessLogfile].filter((f): f is string => f !== null && f !== '-');
      try {
        // The stack dump directory too: the workers write into it as the new owner.
        const stacks = stacksDir();
        for (const path of [...unixSockets, ...logFiles, ...(stacks ? [stacks] : [])]) chownTo(path, identity);
        dropPrivileges(identity, this.config.initgroups);
      } catch (err) {
        throw new NodicornError('ERR_PRIVILEGES', `--user/--group: cannot switch to uid ${identity.uid}, gid ${identity.gid}: ${(err as Error).message}`, ExitCode.UNEXPECTED);
      }
      this.log.info(`Running as uid ${identity.uid}, gid ${identity.gid}`);
    }
  }

  /** At exit: the pidfile goes, if it is still ours and the user may remove it. */
  cleanUp(): void {
    const err = this.pidfile?.remove();
    if (err) this.log.warning(`cannot remove the pidfile ${this.pidfile?.path}: ${err.message}`);
    this.pidfile = null;
  }
}

/** The Node process's title, as gunicorn's master's: at start, on promotion, and after a HUP. */
export function setMasterTitle(config: Config, suffix = ''): void {
  process.title = `nodicorn: master [${procName(config)}${suffix}]`;
}

/** A process of the server other than the master: "nodicorn: frontend 1/2 [app]". */
export function setProcessTitle(config: Config, role: string): void {
  process.title = `nodicorn: ${role} [${procName(config)}]`;
}

/** gunicorn's proc_name: -n, else default_proc_name, else the app spec (what gunicorn sets it to). */
export function procName(config: Config): string {
  return config.name ?? config.defaultProcName ?? config.app ?? 'nodicorn';
}
