/**
 * --static-map URL_PREFIX=DIR: which file under which DIR a request path names, if any. A path
 * that tries to leave its DIR (a `..` or `.` segment, plain or percent-encoded, an encoded slash,
 * a backslash, a NUL, bad percent-encoding) is refused outright; what is left is joined under
 * DIR, opened, and where the opened file really is is checked, so a symlink leading outside DIR
 * is refused too.
 */
import { close, constants, fstat, open, realpathSync, statSync, type Stats } from 'node:fs';
import { readlink, realpath } from 'node:fs/promises';
import { promisify } from 'node:util';
import { join, resolve, sep } from 'node:path';
import { ConfigError } from '../../errors';

export interface StaticMapping {
  /** Starts with /, no trailing slash ('' for the root). */
  prefix: string;
  dir: string;
}

export const STATIC_MAP_EXPECTED = 'URL_PREFIX=DIR, URL_PREFIX starting with /';

/** URL_PREFIX=DIR as uWSGI's --static-map takes it; null when it is not that. */
export function parseStaticMapping(raw: string): StaticMapping | null {
  const at = raw.indexOf('=');
  if (at < 1) return null;
  const prefix = raw.slice(0, at).trim();
  const dir = raw.slice(at + 1).trim();
  if (!prefix.startsWith('/') || dir === '' || /[?#%\\\0]/.test(prefix)) return null;
  return { prefix: prefix.replace(/\/+$/, ''), dir };
}

interface Mount {
  prefix: string;
  /** The DIR's realpath: every file served resolves inside it. */
  root: string;
}

/** What a request path names. */
export type Located =
  /** Under no mount, or a dotfile: the app's. */
  | { kind: 'none' }
  /** A hostile or malformed path under a mount: answered 404, never looked up. */
  | { kind: 'refused'; why: string }
  | { kind: 'candidate'; root: string; path: string };

export class StaticMounts {
  private readonly mounts: Mount[];

  /** Checked at startup: each DIR must be a directory (a ConfigError otherwise). */
  constructor(mappings: readonly StaticMapping[], cwd: string) {
    this.mounts = mappings.map(({ prefix, dir }) => {
      let root: string;
      try {
        root = realpathSync(resolve(cwd, dir));
        if (!statSync(root).isDirectory()) throw new Error('not a directory');
      } catch (err) {
        throw new ConfigError(`--static-map: expected ${prefix || '/'}=DIR with DIR a directory, got ${JSON.stringify(dir)} (${(err as Error).message})`);
      }
      return { prefix, root };
    });
    // The longest prefix wins: /static/img=a beside /static=b.
    this.mounts.sort((a, b) => b.prefix.length - a.prefix.length);
  }

  /** `path`: the request target's path, still percent-encoded, without its query. */
  locate(path: string): Located {
    for (const mount of this.mounts) {
      if (!path.startsWith(mount.prefix)) continue;
      const rest = path.slice(mount.prefix.length);
      if (rest !== '' && !rest.startsWith('/')) continue;
      return candidate(mount.root, rest);
    }
    return { kind: 'none' };
  }
}

function candidate(root: string, rest: string): Located {
  const names: string[] = [];
  for (const raw of rest.split('/')) {
    if (raw === '') continue;
    let name: string;
    try {
      name = decodeURIComponent(raw);
    } catch {
      return { kind: 'refused', why: 'bad percent-encoding' };
    }
    if (name === '.' || name === '..') return { kind: 'refused', why: 'a dot segment' };
    if (/[/\\\0]/.test(name)) return { kind: 'refused', why: 'a slash, backslash or NUL in a segment' };
    // Dotfiles (.env, .git/) are never served: the app decides about them.
    if (name.startsWith('.')) return { kind: 'none' };
    names.push(name);
  }
  return { kind: 'candidate', root, path: join(root, ...names) };
}

/** A file opened under a mount: the caller owns `fd`. */
export interface OpenFile {
  fd: number;
  /** Where the opened file really is. */
  path: string;
  stats: Stats;
}

/**
 * Opens the regular file at `path` if what was opened really is inside `root`, else null
 * (missing, a directory, something else) or 'outside' (a symlink led out). The check is made on
 * the opened file itself (Linux: /proc/self/fd), so swapping a directory for a symlink between
 * a check and the open cannot lead out; elsewhere it is a realpath of the name.
 */
export async function openInside(root: string, path: string): Promise<OpenFile | null | 'outside'> {
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO under DIR must not block a libuv thread; a regular file ignores it.
    fd = await openFile(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  let keep = false;
  try {
    const real = await whereOpened(fd, path);
    if (real !== root && !real.startsWith(root.endsWith(sep) ? root : root + sep)) return 'outside';
    const stats = await fstatFd(fd);
    if (!stats.isFile()) return null;
    keep = true;
    return { fd, path: real, stats };
  } catch {
    return null;
  } finally {
    if (!keep) close(fd, () => {});
  }
}

async function whereOpened(fd: number, path: string): Promise<string> {
  try {
    return await readlink(`/proc/self/fd/${fd}`);
  } catch {
    return realpath(path);
  }
}

const openFile = promisify(open) as (path: string, flags: number) => Promise<number>;
const fstatFd = promisify(fstat) as (fd: number) => Promise<Stats>;
