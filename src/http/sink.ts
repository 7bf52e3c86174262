/**
 * Writes a worker's response onto a node:http ServerResponse or a node:http2 compatibility
 * Http2ServerResponse: status and headers, body with flow-control acknowledgements, files
 * straight from disk, and errors as one generic response.
 */
import { createReadStream } from 'node:fs';
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';
import type { Writable } from 'node:stream';
import { isH2Response, STREAM_ABORT_CODE, type AnyResponse } from './h2';
import type { Pairs, ResponseSink } from '../exchange';
import type { FileRange } from '../protocol/frames';
import { WHOLE_FILE } from '../protocol/frames';
import type { HttpError } from '../errors';
import type { Logger } from '../log/logger';

type Op = () => void;

export class HttpResponseSink implements ResponseSink {
  /** Body bytes the app declared with Content-Length, or -1. */
  private declared = -1;
  private written = 0;
  private finished = false;
  /** While a file streams, later operations wait here so the body stays in order. */
  private pending: Op[] | null = null;
  private unflushed = 0;
  private flushWaiters: Array<(n: number) => void> = [];
  private drainHooked = false;
  /** Set by the response writer: what the access log reports. */
  status = 0;
  bytes = 0;
  responseHeaders: Pairs = [];
  /** The response as either kind takes bytes. */
  private readonly res: Writable & Pick<ServerResponse, 'headersSent' | 'writeContinue'>;
  /** The same response, as exactly one of these. */
  private readonly h1: ServerResponse | null;
  private readonly h2: Http2ServerResponse | null;

  constructor(
    private readonly response: AnyResponse,
    private readonly isHead: boolean,
    private readonly log: Logger,
  ) {
    this.res = response;
    this.h2 = isH2Response(response) ? response : null;
    this.h1 = isH2Response(response) ? null : response;
  }

  /** At 'close': whether the whole response went out (else the client went away first). */
  get delivered(): boolean {
    // An HTTP/2 stream reset by the client still reports writableFinished; its RST code tells.
    if (this.h2) return this.h2.writableEnded && this.h2.stream.rstCode === 0;
    return this.res.writableFinished;
  }

  /** The response can take no more bytes. (Http2ServerResponse has no `destroyed`; its stream does.) */
  private get gone(): boolean {
    return this.h2 ? this.h2.stream.destroyed : this.res.destroyed;
  }

  get headersSent(): boolean {
    return this.res.headersSent;
  }

  sendContinue(): void {
    if (!this.res.headersSent && !this.finished) this.res.writeContinue();
  }

  head(status: number, reason: string, headers: Pairs): void {
    if (this.finished) return;
    const flat: string[] = [];
    let close = false;
    for (const [name, value] of headers) {
      if (name.length === 14 && name.toLowerCase() === 'content-length') {
        const n = Number(value);
        if (Number.isSafeInteger(n) && n >= 0) this.declared = n;
      } else if (name.length === 10 && name.toLowerCase() === 'connection') {
        // The worker only lets "Connection: close" through; node:http sets the header itself.
        close = true;
        continue;
      }
      flat.push(name, value);
    }
    this.status = status;
    this.responseHeaders = headers;
    try {
      if (this.h1) {
        if (close) this.h1.shouldKeepAlive = false;
        this.h1.writeHead(status, reason, flat);
      } else {
        // HTTP/2 has no reason phrase and its own connection management (RFC 9113 §8.2.2, §8.3.2).
        this.h2?.writeHead(status, h2Headers(flat));
      }
    } catch (err) {
      // The worker validated the headers; node:http refusing them anyway is an app bug seen late.
      this.log.error(`invalid response head from the app: ${(err as Error).message}`);
      this.res.destroy();
      this.settle();
    }
  }

  body(chunk: Buffer, flushed: (n: number) => void): void {
    if (this.pending) {
      this.pending.push(() => this.body(chunk, flushed));
      return;
    }
    if (this.finished || this.gone) {
      flushed(chunk.length);
      return;
    }
    const size = chunk.length;
    if (this.declared >= 0 && this.written + size > this.declared) {
      // More than the app's Content-Length: sending it would desynchronise the connection.
      this.log.warning(`app sent more than its Content-Length of ${this.declared}: truncated`);
      chunk = chunk.subarray(0, Math.max(0, this.declared - this.written));
    }
    this.written += chunk.length;
    if (this.isHead || chunk.length === 0) {
      flushed(size);
      return;
    }
    this.bytes += chunk.length;
    if (this.res.write(chunk) && this.unflushed === 0) {
      flushed(size);
      return;
    }
    this.unflushed += size;
    this.flushWaiters.push(flushed);
    if (!this.drainHooked) {
      this.drainHooked = true;
      this.res.once('drain', this.onDrain);
    }
  }

  private readonly onDrain = (): void => {
    this.drainHooked = false;
    const n = this.unflushed;
    const waiters = this.flushWaiters;
    this.unflushed = 0;
    this.flushWaiters = [];
    // One acknowledgement per drain is enough: the channel sums them per request.
    for (let i = 0; i < waiters.length; i++) (waiters[i] as (n: number) => void)(i === 0 ? n : 0);
  };

  file(range: FileRange): void {
    if (this.pending) {
      this.pending.push(() => this.file(range));
      return;
    }
    if (this.finished || this.isHead) return;
    let length = range.length;
    if (this.declared >= 0) {
      const room = this.declared - this.written;
      length = length === WHOLE_FILE ? room : Math.min(length, room);
    }
    if (length === 0) return;
    this.pending = [];
    const stream = createReadStream(range.path, {
      start: range.offset,
      end: length === WHOLE_FILE ? undefined : range.offset + length - 1,
      highWaterMark: 256 * 1024,
    });
    stream.on('data', (chunk) => {
      const buf = chunk as Buffer;
      this.written += buf.length;
      this.bytes += buf.length;
      if (!this.res.write(buf)) {
        stream.pause();
        this.res.once('drain', () => stream.resume());
      }
    });
    const done = (err?: Error): void => {
      if (err) {
        this.log.error(`file_wrapper: cannot send ${range.path}: ${err.message}`);
        this.res.destroy();
      }
      const ops = this.pending ?? [];
      this.pending = null;
      for (const op of ops) op();
    };
    stream.once('end', () => done());
    stream.once('error', done);
    this.res.once('close', () => stream.destroy());
  }

  end(): void {
    if (this.pending) {
      this.pending.push(() => this.end());
      return;
    }
    if (this.finished) return;
    // A client that left took the missing bytes' fault with it: nothing to warn about.
    if (!this.isHead && !this.gone && this.declared >= 0 && this.written < this.declared) {
      // Fewer bytes than promised: the client would wait for the rest forever, so close.
      this.log.warning(`app sent ${this.written} of its Content-Length of ${this.declared}: connection closed`);
      this.abortConnection();
    } else {
      this.res.end();
    }
    this.settle();
  }

  /** `close`: the request itself was bad, so the connection cannot be trusted for another. */
  fail(error: HttpError, close = false): void {
    if (this.pending) {
      this.pending.push(() => this.fail(error, close));
      return;
    }
    if (this.finished) return;
    if (this.res.headersSent || this.gone) {
      this.abortConnection();
    } else {
      respondWithError(this.response, error.status, close);
      this.status = error.status;
    }
    this.settle();
  }

  /**
   * Ends a response that cannot be completed: what was already written still goes out (the
   * client sees a truncated body, never a complete-looking one), then the connection closes.
   */
  private abortConnection(): void {
    if (!this.h1) {
      // One stream of a shared connection: reset it (RFC 9113 §8.1), the others go on.
      this.h2?.stream.close(STREAM_ABORT_CODE);
      return;
    }
    const socket = this.h1.socket;
    if (!socket || socket.destroyed) {
      this.res.destroy();
      return;
    }
    socket.end();
    setTimeout(() => socket.destroy(), 2000).unref();
  }

  private settle(): void {
    if (this.finished) return;
    this.finished = true;
  }
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  413: 'Content Too Large',
  414: 'URI Too Long',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
};

export const reasonFor = (status: number): string => REASONS[status] ?? 'Error';

/** The one error response: a short text body, and the connection closes after 4xx framing errors. */
export function respondWithError(res: AnyResponse, status: number, close = false): void {
  const reason = reasonFor(status);
  const body = `${status} ${reason}\n`;
  const headers = ['Content-Type', 'text/plain; charset=utf-8', 'Content-Length', String(body.length)];
  // An HTTP/2 stream ends alone; the other streams of its connection were not part of the fault.
  if (isH2Response(res)) res.writeHead(status, h2Headers(headers));
  else {
    if (close) res.shouldKeepAlive = false;
    res.writeHead(status, reason, headers);
  }
  res.end(body);
}

/** Fields node:http2 refuses to send (connection-specific, RFC 9113 §8.2.2). */
const H2_REFUSED = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'http2-settings']);

/** A flat [name, value, ...] list as node:http2 takes it: lower-case names, repeated ones as arrays. */
function h2Headers(flat: readonly string[]): OutgoingHttpHeaders {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = (flat[i] as string).toLowerCase();
    if (H2_REFUSED.has(name)) continue;
    const value = flat[i + 1] as string;
    const had = out[name];
    if (had === undefined) out[name] = value;
    else if (typeof had === 'string') out[name] = [had, value];
    else had.push(value);
  }
  return out;
}
