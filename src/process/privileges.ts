/**
 * --user, --group and --initgroups. gunicorn's master stays root and only its workers switch;
 * here the Node process reads every byte a client sends, so it gives up root too: once the
 * sockets are bound (unix sockets chowned to the new owner), the log files chowned (so USR1 can
 * reopen them) and the pidfile written, it switches, and the workers it spawns afterwards run
 * as that user from their first instruction.
 */
import { chownSync } from 'node:fs';
import { userInfo } from 'node:os';
import { ConfigError } from '../errors';

export interface Identity {
  readonly uid: number;
  readonly gid: number;
  /** The user's name, for --initgroups; null for a uid the user database does not know. */
  readonly username: string | null;
}

/**
 * --user and --group as numeric ids, or null when neither is given. Names are looked up in the
 * system's databases (NSS: /etc/passwd, LDAP...) by taking the id for a moment as the effective
 * one, which also proves it can be taken. Without --group, the user's primary group (gunicorn
 * keeps root's group there, which would leave the workers in group 0).
 */
export function resolveIdentity(user: string | null, group: string | null): Identity | null {
  if (user === null && group === null) return null;
  if (typeof process.geteuid !== 'function') throw new ConfigError(`${user !== null ? '--user' : '--group'}: not supported on ${process.platform}`);
  const me = { uid: process.geteuid(), gid: process.getegid?.() ?? 0 };
  let uid = me.uid;
  let username: string | null = null;
  let primaryGid: number | null = null;
  if (user !== null) {
    const found = asEffective('--user', user, process.seteuid!, me.uid, () => {
      try {
        const info = userInfo();
        return { uid: info.uid, gid: info.gid, username: info.username };
      } catch {
        // A uid without a passwd entry: it has no name and no primary group.
        return { uid: process.geteuid!(), gid: null, username: null };
      }
    });
    ({ uid, username } = found);
    primaryGid = found.gid;
  }
  let gid: number;
  if (group !== null) gid = asEffective('--group', group, process.setegid!, me.gid, () => process.getegid!());
  else if (primaryGid !== null) gid = primaryGid;
  else throw new ConfigError(`--user: uid ${user} has no entry in the user database, so no primary group: give --group too`);
  return { uid, gid, username };
}

/**
 * Runs `read` with `id` as the effective user or group, and switches back. When `id` is already
 * ours, no switch is needed (and none is possible without root).
 */
function asEffective<T>(flag: string, id: string, setter: (id: string | number) => void, mine: number, read: () => T): T {
  const numeric = /^\d+$/.test(id);
  try {
    setter(numeric ? Number(id) : id);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EPERM') throw new ConfigError(`${flag}: switching to ${id} needs root (nodicorn runs as uid ${process.geteuid!()})`);
    throw new ConfigError(`${flag}: no such ${flag === '--user' ? 'user' : 'group'} "${id}"`);
  }
  try {
    return read();
  } finally {
    setter(mine);
  }
}

/** Gives a file the new owner (a unix socket, a log file), as gunicorn chowns them. */
export function chownTo(path: string, identity: Identity): void {
  chownSync(path, identity.uid, identity.gid);
}

/**
 * Switches the process for good: groups first (only root may change them), then the uid.
 * Supplementary groups are the user's own with --initgroups, else none but the group itself.
 */
export function dropPrivileges(identity: Identity, initgroups: boolean): void {
  if (process.getuid!() === identity.uid && process.getgid!() === identity.gid && process.geteuid!() === identity.uid) return;
  // process.initgroups exists on POSIX Node but is missing from @types/node.
  const withInitgroups = process as NodeJS.Process & { initgroups(user: string, extraGroup: number): void };
  if (initgroups && identity.username !== null) withInitgroups.initgroups(identity.username, identity.gid);
  else process.setgroups!([identity.gid]);
  process.setgid!(identity.gid);
  process.setuid!(identity.uid);
}
