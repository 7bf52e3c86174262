/**
 * How a connection ends early, in one place.
 *
 * - A refused request (4xx, then close): nothing that arrives after it on the same connection may
 *   reach the app (llhttp may already have parsed a pipelined request behind it), and the close
 *   lingers: a server that closes while the client is still sending makes the kernel answer with
 *   a reset, which can destroy the refusal before the client reads it (RFC 9112 §9.6).
 * - A parse error (node:http's clientError): the error answer must not overtake responses still
 *   owed on the connection (pipelining), and when the broken part is the body of a request in
 *   flight, the answer is that request's own response.
 * - A client that ends its side (FIN) before its request body is whole: that body can never be
 *   completed, so the request gets a 400 and never reaches the app. node:http's own EOF check
 *   says so for most requests; for one that asks for an Upgrade it says nothing (the bytes
 *   after the head would belong to the new protocol), and the request would wait for the body
 *   timeout.
 */
import type { Socket } from 'node:net';
import { HttpError } from '../../errors';
import type { Logger } from '../../log/logger';
import type { H1Request, H1Response } from '../engine';
import { onDestroySoon } from '../node-internals';
import { reasonFor } from '../response/error-response';

/** How long a closing connection keeps reading (and dropping) what the client still sends. */
const LINGER_MS = 2_000;

interface Owed {
  req: H1Request;
  /** Answers this request with an error (its body could not be parsed). */
  fail: (error: HttpError) => void;
  failed: boolean;
}

interface ConnState {
  owed: Owed[];
  closing: boolean;
  /** A raw answer waiting for the owed responses to go out first. */
  deferred: string | null;
}

/** llhttp error codes that get something other than 400. */
const STATUS_BY_CODE: Record<string, number> = {
  HPE_HEADER_OVERFLOW: 431,
  ERR_HTTP_REQUEST_TIMEOUT: 408,
};

export class Connections {
  private readonly states = new WeakMap<Socket, ConnState>();

  constructor(private readonly log: Logger) {}

  private state(socket: Socket): ConnState {
    let s = this.states.get(socket);
    if (!s) {
      s = { owed: [], closing: false, deferred: null };
      socket.once('end', () => this.clientEnded(socket));
      this.states.set(socket, s);
    }
    return s;
  }

  /** A request was handed to the app: its response is owed until `res` closes. */
  track(req: H1Request, res: H1Response, fail: (error: HttpError) => void): void {
    const socket = req.socket;
    const s = this.state(socket);
    const entry: Owed = { req, fail, failed: false };
    s.owed.push(entry);
    res.once('close', () => {
      const i = s.owed.indexOf(entry);
      if (i >= 0) s.owed.splice(i, 1);
      if (s.owed.length === 0 && s.deferred !== null) this.sendRaw(socket, s);
    });
  }

  /** True once the connection is being closed: a request parsed from it now is never served. */
  closing(socket: Socket): boolean {
    return this.states.get(socket)?.closing ?? false;
  }

  /**
   * The response now being written is the connection's last (its request was refused, or ends
   * the connection): mark it, and make node:http's close after that response linger instead of
   * resetting.
   */
  closeAfterResponse(socket: Socket): void {
    const s = this.state(socket);
    s.closing = true;
    // node:http calls socket.destroySoon() once the last response is written.
    onDestroySoon(socket, () => linger(socket));
  }

  /** The client's FIN: a request whose body is still coming cannot get the rest. */
  private clientEnded(socket: Socket): void {
    const s = this.states.get(socket);
    const current = s?.owed[s.owed.length - 1];
    // node:http's 'end' listener runs first: a parse error it found has answered already.
    if (current === undefined || current.req.complete || current.failed) return;
    current.failed = true;
    current.fail(new HttpError(400, 'ERR_INCOMPLETE_BODY', 'the client closed its side before the whole request body arrived'));
  }

  /** node:http's clientError: llhttp could not parse what arrived on `socket`. */
  clientError(err: NodeJS.ErrnoException, socket: Socket): void {
    const code = err.code ?? '';
    const s = this.state(socket);
    // Bytes after a "Connection: close" request: answer that request, ignore the rest
    // (node:http's default would write a 400 before the valid response).
    if (code === 'HPE_CLOSED_CONNECTION') return;
    // The broken part is the body of the request in flight: that request gets the error, even
    // when it was to be the connection's last.
    const current = s.owed[s.owed.length - 1];
    const inBody = current !== undefined && !current.req.complete && !current.failed;
    // Otherwise, once closing, the parser stays failed and reports every later chunk again.
    if (!inBody && s.closing) return;
    this.log.debug(`client error from ${socket.remoteAddress ?? 'unix socket'}: ${code} ${err.message}`);
    if (code === 'ECONNRESET' || !socket.writable) {
      s.closing = true;
      socket.destroy();
      return;
    }
    const status = STATUS_BY_CODE[code] ?? 400;
    if (inBody) {
      current.failed = true;
      current.fail(new HttpError(status, 'ERR_BAD_REQUEST', `${code} ${err.message}`));
      return;
    }
    this.refuse(socket, status);
  }

  /**
   * Answers with a bare status and closes, after the responses still owed on the connection
   * (for parse errors, and for CONNECT, which a WSGI app cannot tunnel).
   */
  refuse(socket: Socket, status: number, extraHeaders = ''): void {
    // node:http hands over a CONNECT's socket without its own 'error' listener: a client that
    // resets the connection now would be an unhandled 'error' event, which ends the process.
    if (socket.listenerCount('error') === 0) socket.on('error', (err: Error) => this.log.debug(`refused connection: ${err.message}`));
    const s = this.state(socket);
    s.closing = true;
    s.deferred = `HTTP/1.1 ${status} ${reasonFor(status)}\r\n${extraHeaders}Content-Length: 0\r\nConnection: close\r\n\r\n`;
    if (s.owed.length === 0) this.sendRaw(socket, s);
  }

  private sendRaw(socket: Socket, s: ConnState): void {
    const raw = s.deferred;
    s.deferred = null;
    if (raw === null || socket.destroyed) return;
    if (socket.writable) socket.write(raw);
    linger(socket);
  }
}

/**
 * FIN now; keep reading (node:http drops what it reads once the parser has failed or the
 * connection is closing) until the client closes too, or LINGER_MS at most.
 */
function linger(socket: Socket): void {
  if (socket.destroyed) return;
  if (socket.writable) socket.end();
  const destroy = (): void => {
    if (socket.writableFinished) socket.destroy();
    else socket.once('finish', () => socket.destroy());
  };
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.once('end', destroy);
  if (socket.readableEnded) destroy();
}
