/**
 * Where log lines go: "-" (stdout or stderr, by the caller's choice) or a file opened for appending.
 * Both are written with writeSync so nothing is lost when the process exits: a line handed to
 * process.stderr can still sit in libuv's queue when a pipe is full, and process.exit() drops it
 * (seen under load: 661 of 1000 lines). gunicorn's logging writes synchronously too. A batching sink (the
 * access log) joins the lines of one event-loop tick into one write; whatever is still pending
 * when the process exits is written synchronously from an 'exit' hook.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { ConfigError } from '../errors';

export interface SinkOptions {
  /** The stream "-" stands for. */
  std: 'stdout' | 'stderr';
  /** Join the lines of one tick into one write (hot paths); else write each line at once. */
  batch: boolean;
  /** The flag named when the file cannot be opened: "--error-logfile". */
  label: string;
}

const live = new Set<LineSink>();
let exitHooked = false;

function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', () => {
    for (const sink of live) sink.flushSync();
  });
}

export class LineSink {
  private fd: number;
  /** Only files are closed (and reopened): the standard streams belong to the process. */
  private readonly owned: boolean;
  private pending: string[] = [];
  private scheduled = false;
  private closed = false;

  /** `target`: a path, "-", or an fd someone else opened (a front end's pipe to its master). */
  constructor(
    readonly target: string | number,
    private readonly options: SinkOptions,
  ) {
    if (typeof target === 'number') {
      this.fd = target;
      this.owned = false;
    } else if (target === '-') {
      this.fd = options.std === 'stdout' ? 1 : 2;
      this.owned = false;
    } else {
      try {
        this.fd = openSync(target, 'a');
        this.owned = true;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        throw new ConfigError(`${options.label}: cannot open "${target}" for appending (${code})`);
      }
    }
    live.add(this);
    hookExit();
  }

  /**
   * SIGUSR1 after a log rotation: what is pending goes to the file as it was, then the path is
   * opened again (a new file when the old one was renamed away). When the path cannot be opened
   * the old file stays in use: a log that keeps going beats one that stops. Returns the error.
   */
  reopen(): Error | null {
    if (!this.owned || this.closed || typeof this.target === 'number') return null;
    this.flushSync();
    let fd: number;
    try {
      fd = openSync(this.target, 'a');
    } catch (err) {
      return err as Error;
    }
    const old = this.fd;
    this.fd = fd;
    closeSync(old);
    return null;
  }

  /** `text` is one or more whole lines, each ending in "\n". */
  write(text: string): void {
    if (this.closed) return;
    if (!this.options.batch) {
      this.emit(text);
      return;
    }
    this.pending.push(text);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.drain());
    }
  }

  /** Resolves once everything written so far has reached the file or the stream. */
  flush(): Promise<void> {
    this.drain();
    return Promise.resolve();
  }

  /** Flushes and closes the file (the standard streams stay open). */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    live.delete(this);
    if (this.owned) closeSync(this.fd);
  }

  /** For the 'exit' hook: no callbacks run after it, so pending lines are written synchronously. */
  flushSync(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const chunk = this.pending.join('');
    this.pending = [];
    writeAll(this.fd, chunk);
  }

  private drain(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const chunk = this.pending.length === 1 ? (this.pending[0] as string) : this.pending.join('');
    this.pending = [];
    this.emit(chunk);
  }

  private emit(chunk: string): void {
    writeAll(this.fd, chunk);
  }
}

const pause = new Int32Array(new SharedArrayBuffer(4));

function writeAll(fd: number, chunk: string): void {
  const buf = Buffer.from(chunk, 'utf8');
  let off = 0;
  let waited = 0;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off, buf.length - off);
    } catch (err) {
      // A non-blocking pipe that is full: wait for its reader (bounded: a reader gone for 10 s
      // costs lines, never the server). Anything else (EPIPE from `| head`, a full disk, a
      // vanished file) must not take the server down either; the line is lost.
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || waited >= 10_000) return;
      Atomics.wait(pause, 0, 0, 1);
      waited++;
    }
  }
}
