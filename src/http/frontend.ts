/**
 * The HTTP front: node:http servers on every bind address, turning each request into an
 * Exchange for the dispatcher and each response back into bytes and an access-log line.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Exchange, Pairs } from '../exchange';
import { RequestFlags } from '../protocol/frames';
import type { Logger } from '../log/logger';
import type { AccessLog } from '../log/access';
import { buildEnviron, splitTarget, type ListenerInfo } from './environ';
import { checkRequest } from './checks';
import { BodyLimit, checkLimits, serverLimits, type Limits } from './limits';
import type { Readable } from 'node:stream';
import { HttpResponseSink } from './sink';
import { HttpError } from '../errors';
import type { ProxyTrust } from './forwarded';
import { originOf } from './origin';

export interface FrontendOptions {
  keepAliveMs: number;
  scriptName: string;
  limits: Limits;
  /** --forwarded-allow-ips and --secure-scheme-headers, compiled. */
  trust: ProxyTrust;
}

class HttpExchange implements Exchange {
  aborted = false;
  private listeners: Array<() => void> | null = null;
  readonly arrivedAt = performance.now();

  constructor(
    readonly flags: number,
    readonly environ: Pairs,
    readonly body: Readable | null,
    readonly sink: HttpResponseSink,
  ) {}

  onAbort(listener: () => void): void {
    (this.listeners ??= []).push(listener);
  }

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    const listeners = this.listeners ?? [];
    this.listeners = null;
    for (const l of listeners) l();
  }
}

export class Frontend {
  constructor(
    private readonly options: FrontendOptions,
    private readonly dispatch: (exchange: Exchange) => void,
    private readonly log: Logger,
    private readonly access: AccessLog | null,
  ) {}

  createServer(listener: ListenerInfo): Server {
    const server = createServer({
      keepAliveTimeout: this.options.keepAliveMs,
      // Bodies are streamed to the worker: a whole-request deadline would cut long uploads.
      requestTimeout: 0,
      ...serverLimits(this.options.limits),
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.handle(req, res, listener, false));
    // Answering 100 Continue is the app's call: only when it reads the body (PEP 3333).
    server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => this.handle(req, res, listener, true));
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => this.clientError(err, socket));
    server.on('connect', (req: IncomingMessage, socket: Socket) => {
      // A WSGI app cannot tunnel: refuse CONNECT rather than drop the connection silently.
      this.log.debug(`rejected CONNECT ${req.url} from ${socket.remoteAddress}`);
      socket.end('HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    });
    return server;
  }

  private handle(req: IncomingMessage, res: ServerResponse, listener: ListenerInfo, expectContinue: boolean): void {
    const isHead = req.method === 'HEAD';
    const sink = new HttpResponseSink(res, isHead, this.log);
    const problem = checkRequest(req);
    const rejection = problem !== null ? new HttpError(400, 'ERR_BAD_REQUEST', problem) : checkLimits(req, this.options.limits);
    if (rejection) {
      this.reject(req, sink, rejection);
      return;
    }
    const client = this.options.trust.resolve(originOf(req.socket), req.rawHeaders, listener.scheme);
    if (client instanceof HttpError) {
      this.reject(req, sink, client);
      return;
    }
    const environ = buildEnviron(req, client, this.options.scriptName);
    let flags = 0;
    // llhttp already rejected conflicting framing; what is left is chunked, a length, or none.
    for (const [key, value] of environ) {
      if (key === 'HTTP_TRANSFER_ENCODING') {
        flags = RequestFlags.HAS_BODY | RequestFlags.CHUNKED;
        break;
      }
      if (key === 'CONTENT_LENGTH' && value !== '0') flags = RequestFlags.HAS_BODY;
    }
    let body: Readable | null = null;
    if (flags) body = req;
    const maxBody = this.options.limits.body;
    if (flags & RequestFlags.CHUNKED && maxBody > 0) {
      body = req.pipe(
        new BodyLimit(maxBody, () => {
          exchange.abort();
          this.reject(req, sink, new HttpError(413, 'ERR_LIMIT_REQUEST_BODY', `chunked body exceeds --limit-request-body ${maxBody}`));
        }),
      );
    }
    if (expectContinue && body) flags |= RequestFlags.EXPECT_CONTINUE;
    const exchange = new HttpExchange(flags, environ, body, sink);
    const start = Date.now();
    const startHr = performance.now();
    res.once('close', () => {
      if (!res.writableFinished) exchange.abort();
      this.access?.log({
        // gunicorn's %(h)s is REMOTE_ADDR: the client a trusted proxy names, else the peer.
        remoteAddr: client.remoteAddr || '-',
        method: req.method ?? '-',
        target: req.url ?? '',
        ...splitTarget(req.url ?? ''),
        protocol: `HTTP/${req.httpVersion}`,
        status: sink.status || res.statusCode,
        bytes: sink.bytes,
        requestHeaders: req.rawHeaders,
        responseHeaders: sink.responseHeaders,
        start,
        durationMicros: Math.round((performance.now() - startHr) * 1000),
        workerPid: 0,
      });
    });
    this.dispatch(exchange);
  }

  /** Every rejection: logged at debug with its reason, answered, and the connection closed. */
  private reject(req: IncomingMessage, sink: HttpResponseSink, error: HttpError): void {
    this.log.debug(`${error.status} for ${req.socket.remoteAddress ?? 'unix socket'}: ${error.message}`);
    sink.fail(error, true);
  }

  private clientError(err: NodeJS.ErrnoException, socket: Socket): void {
    const code = err.code ?? '';
    // Bytes after a "Connection: close" request: answer that request, ignore the rest
    // (node:http's default would write a 400 before the valid response).
    if (code === 'HPE_CLOSED_CONNECTION') return;
    this.log.debug(`client error from ${socket.remoteAddress}: ${code} ${err.message}`);
    if (code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const status = code === 'HPE_HEADER_OVERFLOW' ? 431 : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const reason = status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request';
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
  }
}
