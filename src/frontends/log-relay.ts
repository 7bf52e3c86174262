/**
 * The master's side of a front end's log pipe. A pipe read can end anywhere, so each pipe keeps
 * the unfinished tail of its last read and hands on whole lines only: the master is the one
 * writer of every log file, and a line from one front end is never cut by another's.
 */
import type { Readable } from 'node:stream';

/** A stray tail longer than this (a line with no end) is handed on with a newline of its own. */
const MAX_TAIL = 1 << 20;

export class LineJoiner {
  private tail = '';

  constructor(private readonly out: (lines: string) => void) {}

  push(chunk: string): void {
    const end = chunk.lastIndexOf('\n');
    if (end < 0) {
      this.tail += chunk;
      if (this.tail.length > MAX_TAIL) this.end();
      return;
    }
    const whole = this.tail + chunk.slice(0, end + 1);
    this.tail = chunk.slice(end + 1);
    this.out(whole);
  }

  /** The pipe closed (its front end is gone): what it left unfinished is still a line. */
  end(): void {
    if (this.tail === '') return;
    const rest = this.tail;
    this.tail = '';
    this.out(rest + '\n');
  }
}

/** Reads `pipe` (UTF-8) and hands whole lines to `out` until it closes. */
export function relayLines(pipe: Readable, out: (lines: string) => void): void {
  const joiner = new LineJoiner(out);
  pipe.setEncoding('utf8');
  pipe.on('data', (chunk: string) => joiner.push(chunk));
  pipe.on('end', () => joiner.end());
  pipe.on('close', () => joiner.end());
  // A read error ends the pipe like EOF: the front end behind it is going.
  pipe.on('error', () => joiner.end());
}
