/**
 * One connection of the lean engine: llhttp parses what the socket brings (read straight from
 * its stream when it can be consumed), each request head becomes a LeanRequest and a
 * LeanResponse handed to the server's 'request' (or 'checkContinue', or 'connect') listeners,
 * and the responses go out in request order. Keep-alive, the head timeout (checked by the
 * server's one sweep), pauses in reading, the client's half-close and parse errors are here.
 */
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { consumeSocket, destroySoon, type ConsumedStream, type LlhttpParser, type Llhttp, type ParseError } from '../node-internals';
import { LeanRequest, type RequestOwner } from './request';
import { LeanResponse, type ResponseOwner } from './response';

/** Pipelined requests answered ahead of the client's reading before the socket is read no more. */
const MAX_PIPELINED = 16;
const CONTINUE = /^100-continue$/i;

/** The settings node:http reads from its server object; the front end assigns the same ones. */
export interface LeanSettings {
  keepAliveTimeout: number;
  headersTimeout: number;
  maxHeaderSize: number;
  httpAllowHalfOpen: boolean;
}

/** What a lean connection needs of its server, on a plain or a TLS listener. */
export interface LeanHost extends LeanSettings {
  readonly llhttp: Llhttp;
  readonly live: Set<LeanConnection>;
  emit(event: string | symbol, ...args: unknown[]): boolean;
  listenerCount(event: string | symbol): number;
}

export class LeanConnection implements RequestOwner, ResponseOwner {
  private parser: LlhttpParser | null;
  /** The socket's stream, when llhttp reads it directly (else 'data' events feed the parser). */
  private consumed: ConsumedStream | null = null;
  /** Responses not yet ended, in request order: the first one writes. */
  private readonly responses: LeanResponse[] = [];
  /** The request whose body is being parsed. */
  private incoming: LeanRequest | null = null;
  /** Head fields and target parts llhttp handed over before the head's end (over 32 fields, or split reads). */
  private partialHeaders: string[] = [];
  private partialUrl = '';
  /** Requests whose head was complete. */
  private requests = 0;
  private readonly openedAt = performance.now();
  /** performance.now() when the current request's head began; 0 when no head is being parsed. */
  private headSince = 0;
  /** Reading was stopped: the request body's reader is full, or answers pile up. */
  private bodyPaused = false;
  private floodPaused = false;
  /** performance.now() when the connection last went idle between requests; 0 while busy. */
  private idleSince = 0;
  /** A CONNECT parsed in this read, to be handed over once llhttp stops. */
  private connecting: LeanRequest | null = null;
  /** The connection was handed over (CONNECT) or failed to parse: no more requests from it. */
  private done = false;
  /**
   * A body's pieces of one turn are held for one write (turn-cork.ts) on plain TCP only. Over
   * TLS, what is uncorked in an immediate is still in TLS's write when the sink's slow-client
   * check runs in the same immediate phase, so every big answer would look slow (measured in
   * bench/, see docs/perf-journal.md).
   */
  readonly holdsTurns: boolean;

  constructor(
    private readonly server: LeanHost,
    readonly socket: Socket,
  ) {
    this.holdsTurns = !(socket instanceof TLSSocket);
    const llhttp = server.llhttp;
    const parser = llhttp.create();
    this.parser = parser;
    parser.initialize(llhttp.REQUEST, {}, server.maxHeaderSize, 0);
    parser[llhttp.kOnMessageBegin] = this.onMessageBegin;
    parser[llhttp.kOnHeaders] = this.onHeaders;
    parser[llhttp.kOnHeadersComplete] = this.onHeadersComplete;
    parser[llhttp.kOnBody] = this.onBody;
    parser[llhttp.kOnMessageComplete] = this.onMessageComplete;
    parser[llhttp.kOnExecute] = this.onExecute;
    socket.on('error', this.onError);
    socket.on('end', this.onEnd);
    socket.on('close', this.onClose);
    socket.on('drain', this.onDrain);
    this.consumed = consumeSocket(socket, parser);
    // Bytes someone read before us and put back (the PROXY protocol intake): parsed first.
    for (let chunk = socket.read() as Buffer | null; chunk !== null && !this.done; chunk = socket.read() as Buffer | null) {
      this.onExecute(parser.execute(chunk), chunk);
    }
    if (this.consumed === null) socket.on('data', (chunk: Buffer) => this.parser && this.onExecute(this.parser.execute(chunk), chunk));
    // A socket paused by whoever handed it over reads again (into the parser, when consumed).
    if (!this.done && socket.readableFlowing !== true) socket.resume();
  }

  get keepAliveMs(): number {
    return this.server.keepAliveTimeout;
  }

  /** No request on it is being received or answered. */
  get idle(): boolean {
    return this.responses.length === 0 && this.incoming === null;
  }

  // ---------------------------------------------------------------- parser callbacks

  private readonly onMessageBegin = (): void => {
    this.headSince = performance.now();
  };

  private readonly onHeaders = (fields: string[], url: string): void => {
    // Before the head's end: part of the head. After it (chunked bodies): the trailer section.
    for (const f of fields) this.partialHeaders.push(f);
    this.partialUrl += url;
  };

  private readonly onHeadersComplete = (
    major: number,
    minor: number,
    fields: string[] | undefined,
    method: number,
    url: string | undefined,
    _status: unknown,
    _message: unknown,
    upgrade: boolean,
    keepAlive: boolean,
  ): number => {
    if (fields === undefined) {
      fields = this.partialHeaders;
      this.partialHeaders = [];
    }
    if (url === undefined) {
      url = this.partialUrl;
      this.partialUrl = '';
    }
    this.requests++;
    this.headSince = 0;
    const name = this.server.llhttp.methods[method];
    if (name === undefined) {
      // A method llhttp knows and this table does not (a newer llhttp): refused, never guessed.
      this.parseError(Object.assign(new Error('Parse Error: unknown method'), { code: 'HPE_INVALID_METHOD', bytesParsed: 0 }));
      return 0;
    }
    const req = new LeanRequest(this, name, url, major, minor, fields);
    this.incoming = req;
    // An Upgrade nobody takes is an ordinary request (node:http's rule); a CONNECT is handed over.
    if (upgrade && name === 'CONNECT') {
      this.connecting = req;
      return 2;
    }
    const res = new LeanResponse(this, req, keepAlive);
    this.responses.push(res);
    if (this.responses.length === 1) res.becomeCurrent();
    else if (this.responses.length > MAX_PIPELINED || this.socket.writableNeedDrain) this.pauseFlood();
    if (minor === 1 && major === 1) {
      const expect = expectation(fields);
      if (expect !== null) {
        if (CONTINUE.test(expect)) {
          if (this.server.listenerCount('checkContinue') > 0) this.server.emit('checkContinue', req, res);
          else {
            res.writeContinue();
            this.server.emit('request', req, res);
          }
        } else {
          res.writeHead(417);
          res.end();
        }
        return 0;
      }
    }
    this.server.emit('request', req, res);
    return 0;
  };

  private readonly onBody = (chunk: Buffer): void => {
    const req = this.incoming;
    if (req === null || req.destroyed) return;
    if (!req.push(chunk)) this.pauseBody();
  };

  private readonly onMessageComplete = (): void => {
    const req = this.incoming;
    if (req === null) return;
    this.incoming = null;
    if (this.partialHeaders.length > 0) {
      req.rawTrailers = this.partialHeaders;
      this.partialHeaders = [];
      this.partialUrl = '';
    }
    req.complete = true;
    req.push(null);
    // A stream that has ended asks for no more, so a stop for its sake would last forever: what
    // comes next on the connection is the next request (node:http restarts reading here too).
    if (this.bodyPaused) this.readMore();
  };

  /** After each parsed read (consumed), or each execute: errors, and CONNECT's hand-over. */
  private readonly onExecute = (ret: number | ParseError | undefined, data?: Buffer): void => {
    // Bytes of a next request arrived: the keep-alive timer stops, the head timeout takes over.
    this.idleSince = 0;
    if (ret instanceof Error) {
      this.parseError(ret, data);
      return;
    }
    // The CONNECT's head ends its message (its bytes after it are the tunnel's), so llhttp has
    // completed it by now.
    const req = this.connecting;
    if (req !== null && this.parser) {
      const head = data ?? this.parser.getCurrentBuffer();
      this.detach();
      this.server.emit('connect', req, this.socket, head.subarray(typeof ret === 'number' ? ret : head.length));
    }
    // The HTTP/2 preface ("PRI * HTTP/2.0") never gets here: llhttp reports it as an error.
  };

  private parseError(err: ParseError, data?: Buffer): void {
    (err as ParseError & { rawPacket?: Buffer }).rawPacket = data ?? this.parser?.getCurrentBuffer();
    this.clientError(err);
  }

  private clientError(err: Error): void {
    if (this.server.listenerCount('clientError') > 0) {
      this.server.emit('clientError', err, this.socket);
      return;
    }
    if (this.socket.writable && (this.responses.length === 0 || !this.responses[0]?.headOnWire)) this.socket.write('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    this.socket.destroy();
  }

  // ---------------------------------------------------------------- responses

  ended(res: LeanResponse): void {
    // One that ended before its turn leaves when the ones ahead have (advance, becomeCurrent).
    if (this.responses[0] === res) this.advance();
  }

  /** The first response ended: the connection closes, or the next response may write. */
  private advance(): void {
    while (this.responses.length > 0 && (this.responses[0] as LeanResponse).writableEnded) {
      const res = this.responses.shift() as LeanResponse;
      // A body nobody read is read and dropped, so the next request can be parsed.
      const req = res.req;
      if (!req.complete && !req.readableFlowing) req.resume();
      if (res.last) {
        this.done = true;
        destroySoon(this.socket);
        for (const later of this.responses) later.closed();
        this.responses.length = 0;
        return;
      }
      const next = this.responses[0];
      if (next) next.becomeCurrent();
    }
    this.resumeFlood();
    if (this.responses.length === 0 && this.incoming === null && this.keepAliveMs > 0) {
      this.idleSince = performance.now();
    }
  }

  // ---------------------------------------------------------------- reading

  readMore(): void {
    if (!this.bodyPaused) return;
    this.bodyPaused = false;
    if (!this.floodPaused) this.startReading();
  }

  private pauseBody(): void {
    if (this.bodyPaused) return;
    this.bodyPaused = true;
    this.stopReading();
  }

  private pauseFlood(): void {
    if (this.floodPaused) return;
    this.floodPaused = true;
    this.stopReading();
  }

  /** Reads again once the answers waiting for the client are down to half the bound. */
  private resumeFlood(): void {
    if (!this.floodPaused || this.responses.length > MAX_PIPELINED / 2) return;
    this.floodPaused = false;
    if (!this.bodyPaused) this.startReading();
  }

  /**
   * Stops reading the socket, as node:http does for a full body stream. What the current read
   * holds is still parsed (llhttp's pause is not for use inside its callbacks); at most one
   * read's worth more arrives.
   */
  private stopReading(): void {
    this.socket.pause();
    // When llhttp reads the stream directly, pausing the socket alone stops nothing.
    this.consumed?.stop();
  }

  private startReading(): void {
    if (this.done || this.socket.destroyed) return;
    this.consumed?.start();
    this.socket.resume();
  }

  /**
   * --keep-alive: idle that long since its last response, the connection closes. --header-timeout:
   * a head begun (or a connection opened) that long ago and still not whole gets 408.
   */
  checkTimeouts(now: number, timeoutMs: number, idleMs: number): void {
    const parser = this.parser;
    if (parser === null || this.done || this.socket.destroyed) return;
    if (this.idleSince > 0) {
      if (idleMs > 0 && now - this.idleSince >= idleMs) this.socket.destroy();
      return;
    }
    if (timeoutMs <= 0) return;
    let age: number;
    if (this.requests === 0) age = now - this.openedAt;
    else if (this.headSince === 0 || this.incoming !== null || this.responses.length > 0) return;
    else age = now - this.headSince;
    if (age < timeoutMs) return;
    const err = Object.assign(new Error('Request timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' });
    this.clientError(err);
  }

  // ---------------------------------------------------------------- socket events

  private readonly onDrain = (): void => {
    this.responses[0]?.drained();
    this.resumeFlood();
  };

  private readonly onError = (err: Error): void => {
    // node:http reports socket errors (a reset) as client errors; the listener closes the socket.
    this.clientError(err);
  };

  /** The client's FIN. */
  private readonly onEnd = (): void => {
    const parser = this.parser;
    const ret = parser && !this.done ? parser.finish() : undefined;
    if (ret instanceof Error) {
      this.parseError(ret);
      return;
    }
    if (!this.server.httpAllowHalfOpen) {
      this.socket.end();
      return;
    }
    const last = this.responses[this.responses.length - 1];
    if (last) last.last = true;
    else if (this.incoming === null) this.socket.end();
  };

  private readonly onClose = (): void => {
    this.done = true;
    // Its response may have ended already (an early answer): destroyed here, not in the loop.
    const req = this.incoming;
    this.incoming = null;
    if (req && !req.complete) req.destroy();
    for (const res of this.responses) {
      if (!res.req.complete) res.req.destroy();
      res.closed();
    }
    this.responses.length = 0;
    this.free();
  };

  /** CONNECT: the socket is someone else's from here on. */
  private detach(): void {
    this.done = true;
    this.socket.off('error', this.onError);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onClose);
    this.socket.off('drain', this.onDrain);
    this.incoming = null;
    this.free();
    this.server.live.delete(this);
  }

  private free(): void {
    const parser = this.parser;
    if (parser === null) return;
    this.parser = null;
    if (this.consumed !== null) parser.unconsume();
    // Freed once its stack has unwound: this may run inside one of its own callbacks.
    setImmediate(() => parser.close());
  }
}

/** The Expect field's value, or null without one. */
function expectation(fields: string[]): string | null {
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i] as string;
    if (name.length === 6 && name.toLowerCase() === 'expect') return fields[i + 1] as string;
  }
  return null;
}
