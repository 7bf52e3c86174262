/**
 * Where log lines go: "-" (stdout or stderr, by the caller's choice) or a file opened for appending.
 * Files are written with writeSync so nothing is lost when the process exits. A batching sink (the
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
const guardedStreams = new WeakSet<NodeJS.WriteStream>();

function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', () => {
    for (const sink of live) sink.flushSync();
  });
}

export class LineSink {
  private fd: number | null = null;
  private readonly stream: NodeJS.WriteStream | null = null;
  private pending: string[] = [];
  private scheduled = false;
  private lastWrite: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    readonly target: string,
    private readonly options: SinkOptions,
  ) {
    if (target === '-') {
      this.stream = options.std === 'stdout' ? process.stdout : process.stderr;
      // A closed pipe (`nodicorn ... | head`) must not crash the server through an 'error' event.
      if (!guardedStreams.has(this.stream)) {
        guardedStreams.add(this.stream);
        this.stream.on('error', () => {});
      }
    } else {
      try {
        this.fd = openSync(target, 'a');
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        throw new ConfigError(`${options.label}: cannot open "${target}" for appending (${code})`);
      }
    }
    live.add(this);
    hookExit();
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
    return this.lastWrite;
  }

  /** Flushes and closes the file (the standard streams stay open). */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    live.delete(this);
    if (this.fd !== null) {
      closeSync(this.fd);
      this.fd = null;
    }
  }

  /** For the 'exit' hook: no callbacks run after it, so pending lines are written synchronously. */
  flushSync(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const chunk = this.pending.join('');
    this.pending = [];
    writeAll(this.fd ?? (this.options.std === 'stdout' ? 1 : 2), chunk);
  }

  private drain(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const chunk = this.pending.length === 1 ? (this.pending[0] as string) : this.pending.join('');
    this.pending = [];
    this.emit(chunk);
  }

  private emit(chunk: string): void {
    if (this.fd !== null) {
      writeAll(this.fd, chunk);
    } else if (this.stream) {
      const stream = this.stream;
      this.lastWrite = new Promise((resolve) => {
        stream.write(chunk, () => resolve());
      });
    }
  }
}

function writeAll(fd: number, chunk: string): void {
  try {
    const buf = Buffer.from(chunk, 'utf8');
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
  } catch {
    // A full disk or a vanished file must not take the server down with it; the line is lost.
  }
}
