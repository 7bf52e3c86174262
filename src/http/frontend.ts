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
import { BodyLimit, bodyTooLarge, checkLimits, serverLimits, type Limits } from './limits';
import type { Readable } from 'node:stream';
import { HttpResponseSink, type SpoolSettings } from './sink';
import { receiveBody, type BodyOptions } from './receive';
import { ConnectionCap } from './connections';
import { HttpError } from '../errors';

export interface FrontendOptions {
  keepAliveMs: number;
  scriptName: string;
  limits: Limits;
  /** --header-timeout in ms; 0 = none. */
  headerTimeoutMs: number;
  /** --body-timeout in ms and --body-min-rate: how slowly a buffered body may arrive. */
  bodyTimeoutMs: number;
  bodyMinRate: number;
  /** PATH_INFO prefixes whose bodies stream to the app unbuffered (--stream-request-paths). */
  streamPaths: readonly string[];
  /** Memory and temp-file room for bodies a slow party has not taken yet. */
  spool: SpoolSettings;
  /** --worker-connections; 0 = no cap. */
  maxConnections: number;
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
  private readonly cap: ConnectionCap;
  private readonly bodyOptions: BodyOptions;

  constructor(
    private readonly options: FrontendOptions,
    private readonly dispatch: (exchange: Exchange) => void,
    private readonly log: Logger,
    private readonly access: AccessLog | null,
  ) {
    this.cap = new ConnectionCap(options.maxConnections, log);
    const { memory, dir } = options.spool;
    this.bodyOptions = { memory, dir, maxBody: options.limits.body, timeoutMs: options.bodyTimeoutMs, minRate: options.bodyMinRate };
  }

  createServer(listener: ListenerInfo): Server {
    const server = createServer({
      keepAliveTimeout: this.options.keepAliveMs,
      // Slowloris: the head must arrive within --header-timeout (answered 408 in clientError).
      headersTimeout: this.options.headerTimeoutMs,
      // Node checks every 30 s by default, which would stretch a short timeout a lot.
      connectionsCheckingInterval: checkingInterval(this.options.headerTimeoutMs),
      // Buffered bodies have their own timeout (receive.ts); streamed ones must not be cut.
      requestTimeout: 0,
      ...serverLimits(this.options.limits),
    });
    this.cap.watch(server, true);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.handle(req, res, listener, false));
    // Expect: 100-continue: answered at once for buffered bodies, by the app for streamed ones.
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
    if (this.cap.refused(req.socket)) return;
    const isHead = req.method === 'HEAD';
    const sink = new HttpResponseSink(res, isHead, this.log, this.options.spool);
    const problem = checkRequest(req);
    const rejection = problem !== null ? new HttpError(400, 'ERR_BAD_REQUEST', problem) : checkLimits(req, this.options.limits);
    if (rejection) {
      this.reject(req, sink, rejection);
      return;
    }
    // node:http reads a keepAliveTimeout of 0 as "never time out"; --keep-alive 0 means "close".
    if (this.options.keepAliveMs === 0) res.shouldKeepAlive = false;
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
    let exchange: HttpExchange | null = null;
    let stopReceiving: (() => void) | null = null;
    const start = Date.now();
    const startHr = performance.now();
    res.once('close', () => {
      stopReceiving?.();
      // A client that left while sending its body was never dispatched nor answered: no line.
      if (exchange === null && !res.headersSent) return;
      if (exchange && !res.writableFinished) exchange.abort();
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
    const send = (body: Readable | null): void => {
      exchange = new HttpExchange(flags, environ, body, sink);
      this.dispatch(exchange);
    };
    if (!flags) {
      send(null);
      return;
    }
    if (!this.streams(environ)) {
      // Buffered: the worker sees the request only once the body is whole. The client is told to
      // go ahead at once, as nginx does; the app's reading decides nothing here.
      if (expectContinue) res.writeContinue();
      stopReceiving = receiveBody(req, this.bodyOptions, {
        spilled: () => this.log.debug(`request body of ${req.method} ${req.url} past ${this.options.spool.memory} bytes: spooled to a temp file`),
        spoolFailed: (err) => {
          this.log.error(`cannot spool a request body in ${this.options.spool.dir}: ${err.message}`);
          if (exchange) {
            exchange.abort();
            sink.fail(new HttpError(500, 'ERR_SPOOL', err.message), true);
          }
        },
        done: (error, body) => (error ? this.reject(req, sink, error) : send(body)),
      });
      return;
    }
    // Streamed (--stream-request-paths): the body flows to the app as it arrives.
    let body: Readable = req;
    const maxBody = this.options.limits.body;
    if (flags & RequestFlags.CHUNKED && maxBody > 0) {
      body = req.pipe(
        new BodyLimit(maxBody, () => {
          exchange?.abort();
          this.reject(req, sink, bodyTooLarge(maxBody));
        }),
      );
    }
    // Answering 100 Continue is then the app's call: only when it reads the body (PEP 3333).
    if (expectContinue) flags |= RequestFlags.EXPECT_CONTINUE;
    send(body);
  }

  /** Whether the request's body streams to the app unbuffered (--stream-request-paths). */
  private streams(environ: Pairs): boolean {
    const prefixes = this.options.streamPaths;
    if (prefixes.length === 0) return false;
    for (const [key, value] of environ) {
      if (key === 'PATH_INFO') return prefixes.some((p) => value.startsWith(p));
    }
    return false;
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

/** How often node:http looks for connections past --header-timeout: a quarter of it, 0.25 to 5 s. */
function checkingInterval(timeoutMs: number): number {
  return timeoutMs === 0 ? 30_000 : Math.min(5000, Math.max(250, Math.floor(timeoutMs / 4)));
}
