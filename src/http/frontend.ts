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
import { checkRequest, checkTrailers, endsConnection } from './checks';
import { Connections } from './connections';
import { BodyLimit, checkLimits, serverLimits, type Limits } from './limits';
import type { Readable } from 'node:stream';
import { HttpResponseSink } from './sink';
import { HttpError } from '../errors';

export interface FrontendOptions {
  keepAliveMs: number;
  scriptName: string;
  limits: Limits;
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
  private readonly connections: Connections;

  constructor(
    private readonly options: FrontendOptions,
    private readonly dispatch: (exchange: Exchange) => void,
    private readonly log: Logger,
    private readonly access: AccessLog | null,
  ) {
    this.connections = new Connections(log);
  }

  createServer(listener: ListenerInfo): Server {
    const server = createServer({
      keepAliveTimeout: this.options.keepAliveMs,
      // Bodies are streamed to the worker: a whole-request deadline would cut long uploads.
      requestTimeout: 0,
      // A missing Host is refused by checkRequest, so it is logged and closed like every refusal.
      requireHostHeader: false,
      ...serverLimits(this.options.limits),
    });
    // A client that half-closes right after its request (`nc -N`, some HTTP/1.0 tools) still
    // gets its answer, as from gunicorn: by default node:http ends the socket at the client's FIN
    // and the response is lost. (A long-standing http.Server property, absent from the types.)
    (server as Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.handle(req, res, listener, false));
    // Answering 100 Continue is the app's call: only when it reads the body (PEP 3333).
    server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => this.handle(req, res, listener, true));
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => this.connections.clientError(err, socket));
    server.on('connect', (req: IncomingMessage, socket: Socket) => {
      // A WSGI app cannot tunnel: refuse CONNECT rather than drop the connection silently.
      this.log.debug(`rejected CONNECT ${req.url} from ${socket.remoteAddress}`);
      this.connections.refuse(socket, 405, 'Allow: GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS\r\n');
    });
    return server;
  }

  private handle(req: IncomingMessage, res: ServerResponse, listener: ListenerInfo, expectContinue: boolean): void {
    // Pipelined behind a refused request, or behind the connection's last one: llhttp parsed it,
    // but it must never reach the app.
    if (this.connections.closing(req.socket)) {
      this.log.debug(`ignored ${req.method} request pipelined after the connection's last one`);
      req.resume();
      return;
    }
    // The last request this connection serves: nothing parsed after it may reach the app.
    if (!res.shouldKeepAlive || endsConnection(req)) {
      res.shouldKeepAlive = false;
      this.connections.closeAfterResponse(req.socket);
    }
    const isHead = req.method === 'HEAD';
    const sink = new HttpResponseSink(res, isHead, this.log);
    const rejection = checkRequest(req) ?? checkLimits(req, this.options.limits);
    if (rejection) {
      this.reject(req, sink, rejection);
      return;
    }
    const environ = buildEnviron(req, listener, this.options.scriptName);
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
    const failRequest = (error: HttpError): void => {
      exchange.abort();
      this.reject(req, sink, error);
    };
    this.connections.track(req, res, failRequest);
    // Trailers arrive with the end of a chunked body; this listener runs before the channel's.
    if (flags & RequestFlags.CHUNKED) {
      req.once('end', () => {
        const bad = checkTrailers(req.rawTrailers);
        if (bad) failRequest(bad);
      });
    }
    const start = Date.now();
    const startHr = performance.now();
    res.once('close', () => {
      if (!res.writableFinished) exchange.abort();
      this.access?.log({
        remoteAddr: req.socket.remoteAddress ?? '-',
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
    this.connections.closeAfterResponse(req.socket);
    sink.fail(error, true);
  }
}
