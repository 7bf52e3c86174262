/**
 * USR2: a new master, started from the same command line, environment and directory, takes over
 * the listening sockets without closing them, so not one connection is refused. As with
 * gunicorn, the two masters serve side by side (both accept from the same sockets) until the
 * operator stops the old one (TERM, or WINCH then TERM); the new one is then "promoted".
 *
 * The sockets travel as inherited file descriptors 3, 4, ... and the environment says which
 * (NODICORN_FD) and who the old master is (NODICORN_PID), as gunicorn's GUNICORN_FD/GUNICORN_PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { linkSync, renameSync, unlinkSync } from 'node:fs';
import type { Server as NetServer } from 'node:net';
import { listenerFd } from '../http/node-internals';
import type { Logger } from '../log/logger';

export const FD_ENV = 'NODICORN_FD';
export const PID_ENV = 'NODICORN_PID';
/** The unix-socket path behind each fd ("" for TCP): node:net cannot ask an fd for it. */
export const PATHS_ENV = 'NODICORN_FD_PATHS';

/** How often a new master looks whether the old one is gone. */
const PROMOTION_POLL_MS = 1_000;

export interface Inherited {
  fds: number[];
  /** Per fd, the unix socket's path, or null. */
  paths: Array<string | null>;
  /** The master that started this one. */
  parentPid: number;
}

/**
 * In a master started by USR2: the listening fds it inherited and its parent's pid. Both
 * variables leave the environment, so the workers and a later re-exec do not see them.
 */
export function takeInherited(env: NodeJS.ProcessEnv = process.env): Inherited | null {
  const fdText = env[FD_ENV];
  const pidText = env[PID_ENV];
  const pathsText = env[PATHS_ENV];
  delete env[FD_ENV];
  delete env[PID_ENV];
  delete env[PATHS_ENV];
  if (!fdText) return null;
  const fds = fdText.split(',').map(Number);
  if (fds.some((fd) => !Number.isInteger(fd) || fd < 0)) return null;
  let paths: unknown = [];
  try {
    paths = JSON.parse(pathsText ?? '[]');
  } catch {
    // unnamed, then
  }
  const named = Array.isArray(paths) ? paths : [];
  return { fds, paths: fds.map((_, i) => (typeof named[i] === 'string' && named[i] ? (named[i] as string) : null)), parentPid: Number(pidText) || 0 };
}

export interface Listener {
  server: NetServer;
  /** The unix socket's path, or null for TCP. */
  path: string | null;
}

function fdOf(server: NetServer): number {
  const fd = listenerFd(server);
  if (fd === null) throw new Error('a listener has no file descriptor');
  return fd;
}

export class Reexec {
  private child: ChildProcess | null = null;
  private readonly argv = [...process.execArgv, ...process.argv.slice(1)];
  private readonly env = { ...process.env };
  private readonly cwd = process.cwd();

  /** `parentPid`: the old master while this one was started by USR2 and it still lives. */
  constructor(
    private readonly log: Logger,
    private parentPid: number,
  ) {}

  /** Whether a new master started by this one is running. */
  get childAlive(): boolean {
    return this.child !== null;
  }

  /** USR2: starts the new master with `listeners` as fds 3, 4, ... */
  start(listeners: Listener[]): void {
    let fds: Array<{ fd: number; path: string | null }>;
    try {
      fds = listeners.map((l) => ({ fd: fdOf(l.server), path: l.path }));
    } catch (err) {
      return this.log.error(`USR2: cannot re-exec: ${(err as Error).message}`);
    }
    this.startOnFds(fds);
  }

  /** USR2 with the listening sockets' fds at hand (the master of several front ends holds no server). */
  startOnFds(listeners: Array<{ fd: number; path: string | null }>): void {
    if (this.child) return this.log.warning('USR2 signal ignored. Child exists.');
    if (this.parentPid) return this.log.warning('USR2 signal ignored. Parent exists.');
    if (listeners.some((l) => l.fd < 0)) return this.log.error('USR2: cannot re-exec: a listener has no file descriptor');
    const fds = listeners.map((l) => l.fd);
    const child = spawn(process.execPath, this.argv, {
      cwd: this.cwd,
      env: {
        ...this.env,
        [FD_ENV]: fds.map((_, i) => 3 + i).join(','),
        [PATHS_ENV]: JSON.stringify(listeners.map((l) => l.path ?? '')),
        [PID_ENV]: String(process.pid),
      },
      stdio: ['inherit', 'inherit', 'inherit', ...fds],
    });
    child.once('error', (err) => {
      this.log.error(`USR2: cannot start a new master: ${err.message}`);
      this.child = null;
    });
    child.once('exit', (code, signal) => {
      this.log.info(`New master (pid: ${child.pid}) exited ${signal ? `by ${signal}` : `with code ${code}`}`);
      this.child = null;
    });
    // It outlives this master, which must not wait for it.
    child.unref();
    this.child = child;
    this.log.info(`USR2: started a new master (pid: ${child.pid}) on the same listeners`);
  }

  /**
   * In a master started by USR2: calls `promoted` once the old master is gone (this process
   * was handed to another parent), as gunicorn's arbiter renames its pidfile then.
   */
  watchParent(promoted: () => void): void {
    if (!this.parentPid) return;
    const timer = setInterval(() => {
      if (this.parentAlive()) return;
      clearInterval(timer);
      this.parentPid = 0;
      this.log.info('Master has been promoted.');
      promoted();
    }, PROMOTION_POLL_MS);
    timer.unref();
  }

  private parentAlive(): boolean {
    if (this.parentPid && process.ppid !== this.parentPid) this.parentPid = 0;
    return this.parentPid !== 0;
  }

  /**
   * At the end of a stop: the unix-socket paths this master inherited are removed, as the
   * master that bound them would, unless another master still serves on them.
   */
  releasePaths(paths: string[]): void {
    if (this.child || this.parentAlive()) return;
    for (const path of paths) {
      try {
        unlinkSync(path);
      } catch {
        // gone already
      }
    }
  }

  /**
   * Closing a unix-socket listener removes its path (libuv unlinks what it bound), which would
   * leave a new master listening on a socket nobody can reach. While one runs, each path gets
   * a second hard link before the close, renamed back over the path right after: the path is
   * missing only between those two system calls. Call the returned function after the close.
   */
  keepPaths(paths: string[]): () => void {
    if (!this.child || paths.length === 0) return () => {};
    const kept: Array<[string, string]> = [];
    for (const path of paths) {
      const spare = `${path}.${process.pid}.keep`;
      try {
        linkSync(path, spare);
        kept.push([spare, path]);
      } catch (err) {
        this.log.warning(`cannot keep ${path} for the new master: ${(err as Error).message}`);
      }
    }
    return () => {
      for (const [spare, path] of kept) {
        try {
          renameSync(spare, path);
        } catch (err) {
          this.log.warning(`cannot restore ${path} for the new master: ${(err as Error).message}`);
          try {
            unlinkSync(spare);
          } catch {
            // gone already
          }
        }
      }
    };
  }
}
