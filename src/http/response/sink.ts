/**
 * Writes a worker's response onto a node:http ServerResponse or a node:http2 compatibility
 * Http2ServerResponse: status and headers, body with flow-control acknowledgements, files
 * straight from disk, and errors as one generic response.
 */
import { createReadStream } from 'node:fs';
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';
import type { Writable } from 'node:stream';
import { isH2Response, STREAM_ABORT_CODE, type AnyResponse } from '../h2';
import type { Pairs, ResponseSink } from '../../exchange';
import type { FileRange } from '../../protocol/frames';
import { WHOLE_FILE } from '../../protocol/frames';
import type { HttpError } from '../../errors';
import type { Logger } from '../../log/logger';
import { Spool } from '../spool';
import type { SendWatch } from './send-watch';

/** Output that waits for the client, in order. */
type Op =
  | { kind: 'bytes'; n: number }
  | { kind: 'file'; range: FileRange }
  | { kind: 'end' }
  | { kind: 'fail'; error: HttpError; close: boolean };

/** How much of a response a slow client may leave with Node (--body-buffer-size and friends). */
export interface SpoolSettings {
  /** Bytes held in memory per response before the temp file. */
  memory: number;
  /** Where the temp file goes. */
  dir: string;
  /** The most bytes the temp file may hold; past it the worker waits for the client. 0: no file. */
  maxFile: number;
}

/** Reads of a response's temp file. */
const FILE_READ = 256 * 1024;

/**
 * The last body piece always goes to end(), so it leaves in the head's write. Up to this size it
 * goes as a latin-1 string, which both engines join to the head in one buffer: decoding a small
 * piece costs less than a writev's second piece. A bigger one goes as a Buffer, that second
 * piece, since decoding and copying 10 KB cost more (bench/README).
 */
const ONE_WRITE = 2048;

/**
 * The worker gets its flow-control credit as soon as Node holds the bytes (the socket took them,
 * node:http buffered them, or the spool did), never when the client reads them: a client that
 * reads slowly, or not at all, costs a spool, never a Python thread.
 */
export class HttpResponseSink implements ResponseSink {
  /** Body bytes the app declared with Content-Length, or -1. */
  private declared = -1;
  /** Body bytes accepted so far (sent or queued), for the Content-Length checks. */
  private written = 0;
  private finished = false;
  /**
   * null while the socket keeps up: bytes are written straight through (the fast path, no spool).
   * Otherwise what waits for the client: body bytes (held by `spool`), files, the end.
   */
  private backlog: Op[] | null = null;
  private spool: Spool | null = null;
  /** A temp-file read or a file_wrapper file is on its way to the socket. */
  private busy = false;
  private drainHooked = false;
  /** A checkSocket is queued for this tick's writes. */
  private checkQueued = false;
  /** Credits kept back while the spool holds more than it may (--max-temp-file-size). */
  private held: Array<() => void> = [];
  /** The last body piece, kept back for end() to send with the head (see ONE_WRITE). */
  private tail: Buffer | null = null;
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
    private readonly settings: SpoolSettings,
    private readonly sendWatch: SendWatch,
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

  /** The socket (or HTTP/2 stream) holds more than its high-water mark: wait for 'drain'. */
  private get needsDrain(): boolean {
    return this.h2 ? this.h2.stream.writableNeedDrain : this.res.writableNeedDrain;
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

  body(chunk: Buffer, flushed: (n: number) => void, ending = false): void {
    const size = chunk.length;
    if (this.finished || this.gone) {
      flushed(size);
      return;
    }
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
    // The last piece goes to end() (see finish): no write held for the turn, one write with the head.
    if (ending && this.backlog === null && this.h1 !== null && this.tail === null) {
      this.tail = chunk;
      flushed(size);
      return;
    }
    if (this.backlog === null) {
      // node:http holds what the socket did not take: accepted either way.
      if (!this.res.write(chunk)) {
        if (this.h1 === null) this.fallBehind();
        else if (!this.checkQueued) {
          // Both engines cork the socket for a while (node:http until the next tick, the lean
          // engine until the turn's end), so the pieces of a body handed on together leave in
          // one write, and write() answers false for any piece over 16 KiB whether or not the
          // socket would take it. Whether the client keeps up is known once that write was
          // made: this check is queued after both uncorks.
          this.checkQueued = true;
          setImmediate(this.checkSocket);
        }
      }
      flushed(size);
      return;
    }
    const spool = (this.spool ??= new Spool({
      memory: this.settings.memory,
      dir: this.settings.maxFile > 0 ? this.settings.dir : null,
      onError: this.spoolFailed,
    }));
    const last = this.backlog[this.backlog.length - 1];
    if (last?.kind === 'bytes') last.n += chunk.length;
    else this.backlog.push({ kind: 'bytes', n: chunk.length });
    spool.append(chunk, () => {
      if (spool.unread <= this.settings.memory + this.settings.maxFile) flushed(size);
      else this.held.push(() => flushed(size));
    });
    this.pump();
  }

  file(range: FileRange): void {
    if (this.finished || this.isHead) return;
    let length = range.length;
    if (this.declared >= 0) {
      const room = this.declared - this.written;
      length = length === WHOLE_FILE ? room : Math.min(length, room);
    }
    if (length === 0) return;
    // Counted now, so the Content-Length checks of what follows see it in order.
    if (length !== WHOLE_FILE) this.written += length;
    this.enqueue({ kind: 'file', range: { ...range, length } });
  }

  end(): void {
    if (this.finished) return;
    this.enqueue({ kind: 'end' });
  }

  /** `close`: the request itself was bad, so the connection cannot be trusted for another. */
  fail(error: HttpError, close = false): void {
    if (this.finished) return;
    this.enqueue({ kind: 'fail', error, close });
  }

  /** Runs `op` now unless output ahead of it still waits for the client. */
  private enqueue(op: Exclude<Op, { kind: 'bytes' }>): void {
    if (this.backlog !== null && (this.backlog.length > 0 || this.busy)) {
      this.backlog.push(op);
      return;
    }
    this.run(op);
  }

  private run(op: Exclude<Op, { kind: 'bytes' }>): void {
    if (op.kind === 'file') {
      this.busy = true;
      if (this.backlog === null) this.openBacklog();
      this.sendFile(op.range, () => {
        this.busy = false;
        this.pump();
      });
    } else if (op.kind === 'end') this.finish();
    else this.abandon(op.error, op.close);
  }

  /** After a tick's body writes went to the socket: left more than the high-water mark unsent? */
  private readonly checkSocket = (): void => {
    this.checkQueued = false;
    const res = this.h1 as ServerResponse;
    if (this.backlog === null && !this.finished && res.writableLength >= res.writableHighWaterMark) this.fallBehind();
  };

  /** The socket is full: what comes next waits in the backlog until it drains. */
  private fallBehind(): void {
    this.log.debug('a client reads slower than its answer comes: the rest waits in Node (memory, then a temp file)');
    this.openBacklog();
    this.hookDrain();
  }

  /** --send-timeout: the client must take some of what waits for it, or lose the connection. */
  private watchSocket(): void {
    if (this.h1) {
      const socket = this.h1.socket;
      if (socket) this.sendWatch.watch(socket, () => socket.destroy());
      return;
    }
    // node:http2 hands out a proxy that refuses destroy(): the session is what closes.
    const session = this.h2?.stream.session;
    if (session?.socket) this.sendWatch.watch(session.socket, () => session.destroy());
  }

  private openBacklog(): void {
    this.backlog = [];
    this.res.once('close', this.onClose);
  }

  private hookDrain(): void {
    if (this.drainHooked) return;
    this.drainHooked = true;
    this.watchSocket();
    this.res.once('drain', this.onDrain);
  }

  private readonly onDrain = (): void => {
    this.drainHooked = false;
    this.pump();
  };

  /** Moves the backlog to the socket as fast as the client takes it. */
  private readonly pump = (): void => {
    const backlog = this.backlog;
    if (backlog === null || this.busy) return;
    while (backlog.length > 0) {
      if (this.needsDrain) {
        this.hookDrain();
        return;
      }
      const op = backlog[0] as Op;
      if (op.kind !== 'bytes') {
        backlog.shift();
        this.run(op);
        if (this.busy || this.backlog === null) return;
        continue;
      }
      if (op.n === 0) {
        backlog.shift();
        continue;
      }
      const spool = this.spool as Spool;
      const chunk = spool.shiftMemory(op.n);
      if (chunk) {
        op.n -= chunk.length;
        this.res.write(chunk);
        this.releaseCredits(spool);
        continue;
      }
      this.busy = true;
      spool.read(Math.min(op.n, FILE_READ), (err, data) => {
        this.busy = false;
        // An error was reported by onError; null means the spool was destroyed (client gone).
        if (err || data === null || this.backlog === null) return;
        op.n -= data.length;
        this.res.write(data);
        this.releaseCredits(spool);
        this.pump();
      });
      return;
    }
    if (this.needsDrain) {
      this.hookDrain();
      return;
    }
    // Caught up: back to writing straight through.
    this.backlog = null;
    this.res.off('close', this.onClose);
  };

  private releaseCredits(spool: Spool): void {
    while (this.held.length > 0 && spool.unread <= this.settings.memory + this.settings.maxFile) (this.held.shift() as () => void)();
  }

  private sendFile(range: FileRange, done: () => void): void {
    const length = range.length;
    const stream = createReadStream(range.path, {
      start: range.offset,
      end: length === WHOLE_FILE ? undefined : range.offset + length - 1,
      highWaterMark: 256 * 1024,
    });
    let sent = 0;
    stream.on('data', (chunk) => {
      const buf = chunk as Buffer;
      sent += buf.length;
      this.bytes += buf.length;
      if (!this.res.write(buf)) {
        this.watchSocket();
        stream.pause();
        this.res.once('drain', () => stream.resume());
      }
    });
    const finish = (err?: Error): void => {
      if (err) {
        this.log.error(`file_wrapper: cannot send ${range.path}: ${err.message}`);
        this.res.destroy();
      }
      if (length === WHOLE_FILE) this.written += sent;
      else if (sent < length && !err) this.written -= length - sent;
      done();
    };
    stream.once('end', () => finish());
    stream.once('error', finish);
    this.res.once('close', () => stream.destroy());
  }

  private finish(): void {
    if (this.finished) return;
    const tail = this.tail;
    this.tail = null;
    if (this.gone) {
      // The client left mid-body: nothing to complete, and the app did nothing wrong.
      this.settle();
      return;
    }
    if (!this.isHead && this.declared >= 0 && this.written < this.declared) {
      // Fewer bytes than promised: the client would wait for the rest forever, so close.
      this.log.warning(`app sent ${this.written} of its Content-Length of ${this.declared}: connection closed`);
      if (tail) this.res.write(tail);
      this.abortConnection();
    } else if (tail && tail.length <= ONE_WRITE) {
      this.res.end(tail.toString('latin1'), 'latin1');
    } else if (tail) {
      this.res.end(tail);
    } else {
      this.res.end();
    }
    this.settle();
  }

  /** Ends the exchange with an error: an error response if nothing was sent, else an abort. */
  private abandon(error: HttpError, close: boolean): void {
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

  private readonly spoolFailed = (err: Error): void => {
    this.log.error(`cannot spool a response for a slow client: ${err.message}`);
    // The frontend sees the close and aborts the exchange, which stops the app.
    this.res.destroy();
    this.onClose();
  };

  /** The connection is gone (or the response is done): nothing more will be sent. */
  private readonly onClose = (): void => {
    this.backlog = null;
    this.held = [];
    this.settle();
  };

  private settle(): void {
    this.finished = true;
    this.spool?.destroy();
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
