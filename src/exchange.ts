/**
 * The per-request contract between http/ (which owns sockets) and workers/ (which own Python
 * processes). Neither imports the other; both import this.
 */
import type { Readable } from 'node:stream';
import type { BodyFile, FileRange } from './protocol/frames';
import type { HttpError } from './errors';

export type Pairs = Array<[string, string]>;

export interface ResponseSink {
  /** True once the status line and headers went to the client: errors can then only abort. */
  readonly headersSent: boolean;
  /** The app started reading a body sent with `Expect: 100-continue`. */
  sendContinue(): void;
  head(status: number, reason: string, headers: Pairs): void;
  /**
   * Queues body bytes; `flushed(n)` fires once they have left Node's buffers (flow control).
   * `ending`: end() follows at once (both came in one read), so the two may leave as one write.
   */
  body(chunk: Buffer, flushed: (n: number) => void, ending?: boolean): void;
  /** Sends a byte range of a file straight from disk. */
  file(range: FileRange): void;
  end(): void;
  /** Ends the exchange with an error: an error response if nothing was sent, else an abort. */
  fail(error: HttpError, close?: boolean): void;
}

/**
 * A spooled request body as a worker on this machine can take it: the memory part to send,
 * and the temp file's part for the worker to read itself, so those bytes skip the pipe.
 */
export interface BodyHandOff {
  chunks: Buffer[];
  file: BodyFile | null;
  /** The worker can no longer be opening the file (its request ended, or it died). */
  release(): void;
}

/** A body that may be handed off whole instead of read (see BodyHandOff). */
export interface HandOffBody extends Readable {
  /**
   * False, at once, when this body is better sent through the pipe: it never reached the temp
   * file, or more than `maxMemory` bytes of it are in memory (they would go out without flow
   * control). Otherwise true, and `done` runs once every byte has landed, or with an error
   * when the temp file failed or the body was destroyed first: whoever did that also ended the
   * exchange, so the body must then simply stop.
   */
  handOff(maxMemory: number, done: (error: Error | null, handOff: BodyHandOff | null) => void): boolean;
}

export function canHandOff(body: Readable): body is HandOffBody {
  return typeof (body as Partial<HandOffBody>).handOff === 'function';
}

export interface Exchange {
  /** RequestFlags of the protocol: body present, chunked, expect-continue. */
  readonly flags: number;
  /** CGI/WSGI environ entries computed by http/ (strings are latin-1). */
  readonly environ: Pairs;
  /** The request body, or null when there is none. */
  readonly body: Readable | null;
  readonly sink: ResponseSink;
  /** Set when the client went away; `onAbort` listeners fire once. */
  readonly aborted: boolean;
  onAbort(listener: () => void): void;
  /** performance.now() when the request arrived, for queue wait accounting. */
  readonly arrivedAt: number;
  /** The pid of the worker that runs it (the access log's %(p)s); 0 until one does. */
  workerPid: number;
}
