/**
 * The pidfile (-p/--pid), as gunicorn's: refused when it names a live process, written whole or
 * not at all (a temp file renamed over it), and removed at exit only if it still holds our pid.
 */
import { chmodSync, closeSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { ExitCode, NodicornError } from '../errors';

export class Pidfile {
  readonly path: string;

  private constructor(
    path: string,
    private readonly pid: number,
  ) {
    this.path = path;
  }

  /** Writes `pid` to `path`; throws when another live process holds the file. */
  static create(path: string, pid: number = process.pid): Pidfile {
    const file = resolve(path);
    const holder = livePid(file);
    if (holder !== null && holder !== pid) {
      throw new NodicornError('ERR_PIDFILE', `--pid: already running on PID ${holder} (or pid file '${file}' is stale)`, ExitCode.UNEXPECTED);
    }
    const temp = join(dirname(file), `.${basename(file)}.${pid}.tmp`);
    try {
      const fd = openSync(temp, 'wx', 0o644);
      try {
        writeSync(fd, `${pid}\n`);
      } finally {
        closeSync(fd);
      }
      // -rw-r--r-- whatever the umask: tools that read it run as other users.
      chmodSync(temp, 0o644);
      renameSync(temp, file);
    } catch (err) {
      try {
        unlinkSync(temp);
      } catch {
        // never created
      }
      // The code, not the message: that names the temp file.
      const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new NodicornError('ERR_PIDFILE', `--pid: cannot write '${file}' (${reason})`, ExitCode.UNEXPECTED);
    }
    return new Pidfile(file, pid);
  }

  /** Moves to `path` (a master started by USR2, once promoted): this file goes, that one is written. */
  moveTo(path: string): Pidfile {
    this.remove();
    return Pidfile.create(path, this.pid);
  }

  /** Removes the file if it still names this process. Returns the error when it could not. */
  remove(): Error | null {
    try {
      if (readPid(this.path) === this.pid) unlinkSync(this.path);
      return null;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return code === 'ENOENT' ? null : (err as Error);
    }
  }
}

function readPid(path: string): number | null {
  const text = readFileSync(path, 'utf8').trim();
  return /^\d+$/.test(text) ? Number(text) : null;
}

/** The pid in the file if that process is alive (or alive as another user), else null. */
function livePid(path: string): number | null {
  let pid: number | null;
  try {
    pid = readPid(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new NodicornError('ERR_PIDFILE', `--pid: cannot read '${path}': ${(err as Error).message}`, ExitCode.UNEXPECTED);
  }
  if (pid === null || pid === 0) return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? pid : null;
  }
}
