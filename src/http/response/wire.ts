/**
 * Where a response's bytes go, the same to the sink for HTTP/1.1 (either engine's response) and
 * for an HTTP/2 stream (node:http2's compatibility response). Every difference between the two
 * is here: how a head is written, what "delivered" and "gone" mean, who can be closed, and when
 * a refused write means the client is slow.
 */
import type { OutgoingHttpHeaders } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';
import { isH2Response, type AnyResponse, type H1Response } from '../engine';
import type { Drain } from '../conn/drain';
import { STREAM_ABORT_CODE } from '../h2';
import type { SendWatch } from './send-watch';

export interface Wire {
  readonly headersSent: boolean;
  /** At 'close': whether the whole response went out (else the client went away first). */
  readonly delivered: boolean;
  /** The response can take no more bytes. */
  readonly gone: boolean;
  /** More than the high-water mark waits to go: wait for 'drain'. */
  readonly needsDrain: boolean;
  /**
   * The last body piece may be kept back for end(), to leave in the head's write. (An HTTP/2
   * stream frames every piece on its own anyway.)
   */
  readonly holdsLastPiece: boolean;
  /**
   * write() answers false while the socket is only corked (both HTTP/1.1 engines cork for a
   * turn or a tick): whether the client keeps up is known after the uncork (see `behind`).
   * Otherwise a refused write means the client is behind now.
   */
  readonly corked: boolean;
  /** Past the uncork: the socket still holds more than its high-water mark. */
  behind(): boolean;
  /** fields: [name, value, ...]. `close`: the connection closes after this response. */
  writeHead(status: number, reason: string, fields: string[], close: boolean): void;
  writeContinue(): void;
  write(chunk: Buffer): boolean;
  /** Ends the response; a string `last` is latin-1. */
  end(last?: Buffer | string): void;
  destroy(): void;
  once(event: 'close' | 'drain', listener: () => void): void;
  off(event: 'close', listener: () => void): void;
  /** --send-timeout: time the connection while the client takes none of what waits for it. */
  watch(sendWatch: SendWatch): void;
  /** The response cannot be completed: what was written still goes, then the client sees it cut. */
  abort(): void;
}

/** `drain`: while the server stops, every HTTP/1.1 response closes its connection. */
export function wireFor(res: AnyResponse, drain: Drain | null = null): Wire {
  return isH2Response(res) ? new H2Wire(res) : new H1Wire(res, drain);
}

/** What both kinds of response take alike. */
interface Output {
  readonly headersSent: boolean;
  writeContinue(): void;
  write(chunk: Buffer): boolean;
  end(): unknown;
  end(chunk: Buffer): unknown;
  end(chunk: string, encoding: BufferEncoding): unknown;
  destroy(): unknown;
  once(event: 'close' | 'drain', listener: () => void): unknown;
  off(event: 'close', listener: () => void): unknown;
}

/** The calls that read the same for both. */
abstract class OutputWire {
  constructor(private readonly out: Output) {}

  get headersSent(): boolean {
    return this.out.headersSent;
  }

  writeContinue(): void {
    this.out.writeContinue();
  }

  write(chunk: Buffer): boolean {
    return this.out.write(chunk);
  }

  end(last?: Buffer | string): void {
    if (typeof last === 'string') this.out.end(last, 'latin1');
    else if (last) this.out.end(last);
    else this.out.end();
  }

  destroy(): void {
    this.out.destroy();
  }

  once(event: 'close' | 'drain', listener: () => void): void {
    this.out.once(event, listener);
  }

  off(event: 'close', listener: () => void): void {
    this.out.off(event, listener);
  }
}

class H1Wire extends OutputWire implements Wire {
  readonly holdsLastPiece = true;
  readonly corked = true;

  constructor(
    private readonly res: H1Response,
    private readonly drain: Drain | null,
  ) {
    super(res);
  }

  get delivered(): boolean {
    return this.res.writableFinished;
  }

  get gone(): boolean {
    return this.res.destroyed;
  }

  get needsDrain(): boolean {
    return this.res.writableNeedDrain;
  }

  behind(): boolean {
    return this.res.writableLength >= this.res.writableHighWaterMark;
  }

  writeHead(status: number, reason: string, fields: string[], close: boolean): void {
    if (close || this.drain?.closes(this.res.socket)) this.res.shouldKeepAlive = false;
    this.res.writeHead(status, reason, fields);
  }

  watch(sendWatch: SendWatch): void {
    const socket = this.res.socket;
    if (socket) sendWatch.watch(socket, () => socket.destroy());
  }

  /** The connection closes: no later response on it could be framed after a cut one. */
  abort(): void {
    const socket = this.res.socket;
    if (!socket || socket.destroyed) {
      this.res.destroy();
      return;
    }
    socket.end();
    setTimeout(() => socket.destroy(), 2000).unref();
  }
}

class H2Wire extends OutputWire implements Wire {
  readonly holdsLastPiece = false;
  readonly corked = false;

  constructor(private readonly res: Http2ServerResponse) {
    super(res);
  }

  /** A stream reset by the client still reports writableFinished; its RST code tells. */
  get delivered(): boolean {
    return this.res.writableEnded && this.res.stream.rstCode === 0;
  }

  /** Http2ServerResponse has no `destroyed`; its stream does. */
  get gone(): boolean {
    return this.res.stream.destroyed;
  }

  get needsDrain(): boolean {
    return this.res.stream.writableNeedDrain;
  }

  behind(): boolean {
    return this.needsDrain;
  }

  /** HTTP/2 has no reason phrase and its own connection management (RFC 9113 §8.2.2, §8.3.2). */
  writeHead(status: number, _reason: string, fields: string[]): void {
    this.res.writeHead(status, h2Headers(fields));
  }

  /** node:http2 hands out a socket proxy that refuses destroy(): the session is what closes. */
  watch(sendWatch: SendWatch): void {
    const session = this.res.stream.session;
    if (session?.socket) sendWatch.watch(session.socket, () => session.destroy());
  }

  /** One stream of a shared connection: reset it (RFC 9113 §8.1), the others go on. */
  abort(): void {
    this.res.stream.close(STREAM_ABORT_CODE);
  }
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
