/**
 * A response of the lean engine: the part of node:http's ServerResponse that the sink, the
 * front end and the connection bookkeeping use, writing straight to the socket. The head is
 * built as node:http builds it (the app's fields in order, then Date, Connection, Keep-Alive and
 * the framing node:http would add), so a client cannot tell the engines apart.
 *
 * Pipelining: responses leave in request order. Only the connection's first unfinished response
 * writes to the socket; a later one keeps its pieces until the ones ahead of it have ended.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { STATUS_CODES } from 'node:http';
import type { H1Response } from '../engine';
import type { LeanRequest } from './request';
import { holdForTurn, releaseNow } from './turn-cork';

/** What a response needs from its connection. */
export interface ResponseOwner {
  readonly socket: Socket;
  /** --keep-alive in ms, as node:http's keepAliveTimeout (0: the header is left out). */
  readonly keepAliveMs: number;
  /** Body pieces of one turn may be held for one write (turn-cork.ts). */
  readonly holdsTurns: boolean;
  /** The response ended: the next one may write, or the connection closes or idles. */
  ended(res: LeanResponse): void;
}

/** RFC 9110 field-name token characters; anything else in a name is refused, as node:http does. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Field values and reason phrases: no CR, LF or NUL (or other controls but HTAB). */
const INVALID_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

const CRLF = '\r\n';
const LAST_CHUNK = '0\r\n\r\n';

let dateSecond = -1;
let dateText = '';
/** The Date field's value, rebuilt once a second (node:http caches it the same way). */
function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}

export class LeanResponse extends EventEmitter implements H1Response {
  statusCode = 200;
  /** The connection stays open after this response (llhttp's verdict, the app's and ours). */
  shouldKeepAlive: boolean;
  /** The head was written, as node:http means it: stored by writeHead, on the wire or not yet. */
  headersSent = false;
  writableEnded = false;
  writableFinished = false;
  destroyed = false;
  /** This response may write to the socket: every response ahead of it has ended. */
  private current = false;
  /** The head, built and not yet on the wire (it goes out with the first body piece). */
  private head: string | null = null;
  /** The message may carry a body: not for HEAD, 1xx, 204 or 304 (RFC 9110 §6.4.1). */
  private hasBody: boolean;
  private chunked = false;
  /** The connection closes after this response. */
  last = false;
  /** Pieces written before this response became current, in order. */
  private waiting: Array<string | Buffer> = [];
  private waitingBytes = 0;
  private closeEmitted = false;

  constructor(
    private readonly owner: ResponseOwner,
    readonly req: LeanRequest,
    keepAlive: boolean,
  ) {
    super();
    this.shouldKeepAlive = keepAlive;
    this.hasBody = req.method !== 'HEAD';
  }

  get socket(): Socket {
    return this.owner.socket;
  }

  get writableHighWaterMark(): number {
    return this.owner.socket.writableHighWaterMark;
  }

  /** What waits to be written: in the socket once current, else held here. */
  get writableLength(): number {
    return this.current ? this.owner.socket.writableLength : this.waitingBytes;
  }

  get writableNeedDrain(): boolean {
    return this.current ? this.owner.socket.writableNeedDrain : this.waitingBytes >= this.writableHighWaterMark;
  }

  /** node:http's writeHead(status, reason, [name, value, ...]); throws on what it would refuse. */
  writeHead(status: number, reason?: string | readonly string[], fields?: readonly string[]): this {
    if (this.headersSent) throw new Error('writeHead: the head was already written');
    if (typeof reason !== 'string') {
      fields = reason;
      reason = undefined;
    }
    if (!Number.isInteger(status) || status < 100 || status > 999) throw new RangeError(`invalid status code ${status}`);
    const phrase = reason ?? STATUS_CODES[status] ?? 'unknown';
    if (INVALID_VALUE.test(phrase)) throw new TypeError('invalid character in the reason phrase');
    this.statusCode = status;
    if (status === 204 || status === 304 || status < 200) this.hasBody = false;
    let head = `HTTP/1.1 ${status} ${phrase}\r\n`;
    let contentLength = false;
    let transferEncoding = false;
    let date = false;
    let connection = false;
    const list = fields ?? [];
    if (list.length % 2 !== 0) throw new TypeError('writeHead: fields must be name, value pairs');
    for (let i = 0; i < list.length; i += 2) {
      const name = list[i] as string;
      const value = String(list[i + 1]);
      if (!TOKEN.test(name)) throw new TypeError(`invalid header field name ${JSON.stringify(name)}`);
      if (INVALID_VALUE.test(value)) throw new TypeError(`invalid character in header field ${name}`);
      head += `${name}: ${value}\r\n`;
      switch (name.length) {
        case 4:
          if (name.toLowerCase() === 'date') date = true;
          break;
        case 10:
          if (name.toLowerCase() === 'connection') {
            connection = true;
            if (/(?:^|,)\s*close\s*(?:,|$)/i.test(value)) this.last = true;
            else this.shouldKeepAlive = true;
          }
          break;
        case 14:
          if (name.toLowerCase() === 'content-length') contentLength = true;
          break;
        case 17:
          if (name.toLowerCase() === 'transfer-encoding') {
            transferEncoding = true;
            if (/chunked/i.test(value)) this.chunked = true;
          }
          break;
      }
    }
    if (!date) head += `Date: ${httpDate()}\r\n`;
    // node:http forbids chunked framing on 204 and 304 and then closes instead.
    if (this.chunked && (status === 204 || status === 304)) {
      this.chunked = false;
      this.shouldKeepAlive = false;
    }
    // HTTP/1.0 has no chunked framing: a body of unknown length runs to the close.
    const chunkable = this.req.httpVersionMinor >= 1 && this.req.httpVersionMajor >= 1;
    if (!connection) {
      if (this.shouldKeepAlive && (contentLength || chunkable)) {
        head += 'Connection: keep-alive\r\n';
        const seconds = Math.floor(this.owner.keepAliveMs / 1000);
        if (this.owner.keepAliveMs > 0) head += `Keep-Alive: timeout=${seconds}\r\n`;
      } else {
        this.last = true;
        head += 'Connection: close\r\n';
      }
    }
    if (!contentLength && !transferEncoding) {
      if (!this.hasBody) this.chunked = false;
      else if (!chunkable) this.last = true;
      else {
        head += 'Transfer-Encoding: chunked\r\n';
        this.chunked = true;
      }
    }
    this.head = head + CRLF;
    this.headersSent = true;
    return this;
  }

  /** The interim answer goes out on its own, before any head this response may have stored. */
  writeContinue(): void {
    this.put(['HTTP/1.1 100 Continue\r\n\r\n']);
  }

  write(chunk: Buffer | string, encoding?: BufferEncoding): boolean {
    if (this.writableEnded) return false;
    if (!this.headersSent) this.writeHead(this.statusCode);
    // No body bytes: the head alone goes out (node:http's empty write does the same).
    if (!this.hasBody || chunk.length === 0) return this.sendAll([], false);
    const data = typeof chunk === 'string' ? Buffer.from(chunk, encoding ?? 'utf8') : chunk;
    // A body in pieces: the pieces of this turn leave together (see turn-cork.ts).
    if (this.current && this.owner.holdsTurns) holdForTurn(this.owner.socket);
    return this.sendAll(this.chunked ? [`${data.length.toString(16)}\r\n`, data, CRLF] : [data], false);
  }

  end(chunk?: Buffer | string, encoding?: BufferEncoding): this {
    if (this.writableEnded) return this;
    if (!this.headersSent) {
      // As node:http does for end(data) with no head yet: the length is known.
      const length = chunk === undefined ? 0 : typeof chunk === 'string' ? Buffer.byteLength(chunk, encoding ?? 'utf8') : chunk.length;
      this.writeHead(this.statusCode, this.hasBody ? ['Content-Length', String(length)] : []);
    }
    let body: Buffer | string | null = null;
    if (chunk !== undefined && chunk.length > 0 && this.hasBody) body = chunk;
    this.writableEnded = true;
    const pieces: Array<string | Buffer> = [];
    if (body !== null) {
      // A latin-1 string body joins the head in one string: one buffer for the socket.
      const text = typeof body === 'string' && (encoding === 'latin1' || encoding === 'binary');
      const bytes = typeof body === 'string' && !text ? Buffer.from(body, encoding ?? 'utf8') : body;
      if (this.chunked) pieces.push(`${bytes.length.toString(16)}\r\n`, bytes, CRLF);
      else pieces.push(bytes);
    }
    if (this.chunked) pieces.push(LAST_CHUNK);
    this.sendAll(pieces, true);
    this.owner.ended(this);
    return this;
  }

  destroy(): this {
    this.destroyed = true;
    this.owner.socket.destroy();
    return this;
  }

  /** Every response ahead has ended: what this one holds goes out, and it writes directly now. */
  becomeCurrent(): void {
    if (this.current) return;
    this.current = true;
    const waiting = this.waiting;
    this.waiting = [];
    this.waitingBytes = 0;
    if (waiting.length > 0) {
      const socket = this.owner.socket;
      socket.cork();
      for (const piece of waiting) socket.write(piece, 'latin1');
      socket.uncork();
    }
    if (this.writableEnded) this.finishWhenFlushed();
    // Room now, or the socket's 'drain' (which a full socket will emit) says so later.
    else if (!this.owner.socket.writableNeedDrain) this.drained();
  }

  /** Some of the head or body is on its way to the socket (node:http's `_headerSent`). */
  get headOnWire(): boolean {
    return this.headersSent && this.head === null;
  }

  /** The socket took what was queued (its 'drain'). */
  drained(): void {
    // Every time, not only after a refused write: a response that became current wrote its
    // held pieces without asking, and whoever waits for room must hear of it.
    if (this.writableEnded) return;
    this.emit('drain');
  }

  /** The connection closed: nothing more goes out. */
  closed(): void {
    this.destroyed = true;
    this.emitClose();
  }

  /** Writes `pieces` (the head first, if it has not gone yet); `final`: the response ends here. */
  private sendAll(pieces: Array<string | Buffer>, final: boolean): boolean {
    const head = this.head;
    if (head !== null) {
      this.head = null;
      const first = pieces[0];
      if (typeof first === 'string') pieces[0] = head + first;
      else pieces.unshift(head);
    }
    if (!final || !this.current) return this.put(pieces);
    if (!this.owner.holdsTurns && pieces.length > 0) {
      // TLS (which never holds): its writes complete later anyway, so 'finish' rides on the last
      // one. The empty write that finishWhenFlushed (and node:http's end()) adds would cost a
      // TLS write of its own.
      return this.put(pieces, this.finishCallback);
    }
    const ok = this.put(pieces);
    releaseNow(this.owner.socket);
    this.finishWhenFlushed();
    return ok;
  }

  /** Writes `pieces` as they are, or holds them while responses ahead are still going out. */
  private put(pieces: Array<string | Buffer>, done?: (err?: Error | null) => void): boolean {
    if (!this.current) {
      for (const piece of pieces) {
        this.waiting.push(piece);
        this.waitingBytes += piece.length;
      }
      return this.waitingBytes < this.writableHighWaterMark;
    }
    const socket = this.owner.socket;
    let ok = true;
    const last = pieces.length - 1;
    if (last === 0) ok = socket.write(pieces[0] as string | Buffer, 'latin1', done);
    else if (last > 0) {
      socket.cork();
      for (let i = 0; i < last; i++) socket.write(pieces[i] as string | Buffer, 'latin1');
      ok = socket.write(pieces[last] as string | Buffer, 'latin1', done);
      socket.uncork();
    }
    return ok;
  }

  /**
   * 'finish' and 'close' once what the socket holds now has gone to the kernel: on the next tick
   * when the kernel took it all, the common case, which saves a write callback per response.
   */
  private finishWhenFlushed(): void {
    const socket = this.owner.socket;
    if (socket.destroyed) return;
    if (socket.writableLength === 0) process.nextTick(this.finishCallback);
    else socket.write('', 'latin1', this.finishCallback);
  }

  /** Runs a tick after end() at the earliest, so 'close' comes after it, as from node:http. */
  private readonly finishCallback = (err?: Error | null): void => {
    if (err || this.destroyed || this.closeEmitted) return;
    this.writableFinished = true;
    this.closeEmitted = true;
    this.emit('finish');
    this.emit('close');
  };

  private emitClose(): void {
    if (this.closeEmitted) return;
    this.closeEmitted = true;
    process.nextTick(() => this.emit('close'));
  }
}
