/**
 * The HTTP front: a server on every bind address (node:http; node:https with TLS; node:http2 with
 * TLS and h2, which hands HTTP/1.1 connections to node:http's code), turning each request, of
 * whichever version, into an Exchange for the dispatcher and each response back into bytes and an
 * access-log line.
 */
import { createServer } from 'node:http';
import { Http2ServerResponse } from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Exchange, Pairs } from '../exchange';
import { RequestFlags } from '../protocol/frames';
import type { Logger } from '../log/logger';
import type { AccessLog } from '../log/access';
import { buildEnviron, splitTarget, type ListenerInfo } from './request/environ';
import { checkRequest, checkTrailers, endsConnection } from './request/checks';
import { Connections } from './conn/connections';
import { BodyLimit, bodyTooLarge, checkLimits, h2Limits, serverLimits, type Limits } from './request/limits';
import type { Readable } from 'node:stream';
import { SendWatch } from './response/send-watch';
import { sweepInterval } from './conn/sweep';
import { HttpResponseSink, respondWithError, type SpoolSettings } from './response/sink';
import { receiveBody, type BodyOptions } from './request/receive';
import { ConnectionCap } from './conn/connection-cap';
import { HttpError } from '../errors';
import { refusedPeer, type TlsSetup } from './tls';
import { createH2Server, isH2Request, isH2Response, type AnyRequest, type AnyResponse, type FrontServer } from './h2';
import type { ProxyTrust } from './proxy/forwarded';
import { originOf } from './proxy/origin';
import { llhttp } from './lean/binding';
import { LeanServer, LeanTlsServer } from './lean/server';

export interface FrontendOptions {
  keepAliveMs: number;
  /** --http-engine: what serves plain-HTTP/1.1 listeners. */
  engine: 'node' | 'lean';
  scriptName: string;
  limits: Limits;
  /** Used by listeners created with scheme 'https'. */
  tls: TlsSetup | null;
  /** --forwarded-allow-ips and --secure-scheme-headers, compiled. */
  trust: ProxyTrust;
  /** --header-timeout in ms; 0 = none. */
  headerTimeoutMs: number;
  /** --body-timeout in ms and --body-min-rate: how slowly a buffered body may arrive. */
  bodyTimeoutMs: number;
  bodyMinRate: number;
  /** --send-timeout in ms; 0 = none. */
  sendTimeoutMs: number;
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
  constructor(
    private readonly options: FrontendOptions,
    private readonly dispatch: (exchange: Exchange) => void,
    private readonly log: Logger,
    private readonly access: AccessLog | null,
  ) {
    this.connections = new Connections(log);
    this.cap = new ConnectionCap(options.maxConnections, log);
    this.sendWatch = new SendWatch(options.sendTimeoutMs, log);
    const { memory, dir } = options.spool;
    this.bodyOptions = { memory, dir, maxBody: options.limits.body, timeoutMs: options.bodyTimeoutMs, minRate: options.bodyMinRate };
  }

  private readonly connections: Connections;
  private readonly cap: ConnectionCap;
  private readonly sendWatch: SendWatch;
  private readonly bodyOptions: BodyOptions;
  private leanWarned = false;

  createServer(listener: ListenerInfo): FrontServer {
    const tls = listener.scheme === 'https' ? this.options.tls : null;
    const http1 = {
      keepAliveTimeout: this.options.keepAliveMs,
      // Slowloris: the head must arrive within --header-timeout (answered 408 in clientError).
      headersTimeout: this.options.headerTimeoutMs,
      // Node checks every 30 s by default, which would stretch a short timeout a lot.
      connectionsCheckingInterval: checkingInterval(this.options.headerTimeoutMs),
      // Buffered bodies have their own timeout (receive.ts); streamed ones must not be cut.
      requestTimeout: 0,
      // A missing Host is refused by checkRequest, so it is logged and closed like every refusal.
      requireHostHeader: false,
      // A client that half-closes right after its request (`nc -N`, some HTTP/1.0 tools) still
      // gets its answer, as from gunicorn: by default node:http ends the socket at the client's
      // FIN and the response is lost. (A long-standing http.Server property, absent from the types.)
      httpAllowHalfOpen: true,
      ...serverLimits(this.options.limits),
    };
    let server: FrontServer;
    // The lean engine's requests and responses stand in for node:http's: they carry every member
    // handle(), the sink and the connection bookkeeping use, with the same meaning.
    // HTTP/2 is node:http2's, with HTTP/1.1 on the same listener when both are offered.
    const wantsLean = (tls === null || !tls.h2) && this.options.engine === 'lean';
    const lean = wantsLean ? llhttp() : null;
    if (wantsLean && lean === null && !this.leanWarned) {
      this.leanWarned = true;
      this.log.warning(`--http-engine lean: Node ${process.versions.node}'s llhttp binding is not one it was checked on; serving with node:http`);
    }
    if (lean !== null) server = tls === null ? new LeanServer(lean) : new LeanTlsServer(lean, tls.options);
    else if (tls === null) server = createServer(http1);
    else if (!tls.h2) server = createHttpsServer({ ...tls.options, ...http1 });
    else server = createH2Server({ ...tls.options, allowHTTP1: tls.h1, ...h2Limits(this.options.limits) }, this.options.keepAliveMs);
    // Set as properties: node:http ignores maxHeadersCount as a constructor option, and an HTTP/2
    // server hands its HTTP/1.1 connections to node:http's code, which reads these from the server.
    Object.assign(server, http1);
    if (tls !== null) this.watchTls(server, tls);
    this.cap.watch(server, tls === null);
    server.on('request', (req: AnyRequest, res: AnyResponse) => this.handle(req, res, listener, false));
    // Expect: 100-continue: answered at once for buffered bodies, by the app for streamed ones.
    server.on('checkContinue', (req: AnyRequest, res: AnyResponse) => this.handle(req, res, listener, true));
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => this.connections.clientError(err, socket));
    server.on('connect', (req: AnyRequest, socket: Socket | Http2ServerResponse) => {
      // A WSGI app cannot tunnel: refuse CONNECT rather than drop the connection silently.
      this.log.debug(`rejected CONNECT ${req.url ?? req.headers[':authority']} from ${req.socket.remoteAddress}`);
      // node:http2 passes an HTTP/2 CONNECT's response, node:http the HTTP/1 connection's socket.
      if (socket instanceof Http2ServerResponse) return respondWithError(socket, 405);
      this.connections.refuse(socket, 405, 'Allow: GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS\r\n');
    });
    return server;
  }

  /** TLS connections: handshake failures are the client's problem (logged at debug), never a crash. */
  private watchTls(server: FrontServer, tls: TlsSetup): void {
    server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
      this.log.debug(`TLS handshake failed with ${socket.remoteAddress ?? 'a client'}: ${err.code ?? ''} ${err.message}`);
    });
    if (tls.verifyOptional) {
      // Runs before the HTTP layer sees the connection, so no request on it is ever handled.
      server.prependListener('secureConnection', (socket: TLSSocket) => {
        const reason = refusedPeer(socket);
        if (reason === null) return;
        this.log.debug(`${reason} from ${socket.remoteAddress ?? 'a client'}`);
        socket.destroy();
      });
    }
    // An HTTP/2-only listener refuses clients that did not negotiate h2 by ALPN.
    server.on('unknownProtocol', (socket: TLSSocket) => {
      this.log.debug(`refused ${socket.remoteAddress ?? 'a client'}: no HTTP/2 negotiated by ALPN (--http-protocols h2)`);
      socket.destroy();
    });
    server.on('sessionError', (err: Error) => this.log.debug(`HTTP/2 session error: ${err.message}`));
  }

  private handle(req: AnyRequest, res: AnyResponse, listener: ListenerInfo, expectContinue: boolean): void {
    if (this.cap.refused(req.socket)) return;
    // HTTP/1 only: HTTP/2 streams are framed apart, so nothing is pipelined behind another.
    const h1 = isH2Response(res) ? null : res;
    if (h1 !== null && !isH2Request(req)) {
      // Pipelined behind a refused request, or behind the connection's last one: llhttp parsed
      // it, but it must never reach the app.
      if (this.connections.closing(req.socket)) {
        this.log.debug(`ignored ${req.method} request pipelined after the connection's last one`);
        req.resume();
        return;
      }
      // The last request this connection serves: nothing parsed after it may reach the app.
      if (!h1.shouldKeepAlive || endsConnection(req)) {
        h1.shouldKeepAlive = false;
        this.connections.closeAfterResponse(req.socket);
      }
    }
    const isHead = req.method === 'HEAD';
    const sink = new HttpResponseSink(res, isHead, this.log, this.options.spool, this.sendWatch);
    const rejection = checkRequest(req) ?? checkLimits(req, this.options.limits);
    if (rejection) {
      this.reject(req, sink, rejection);
      return;
    }
    const client = this.options.trust.resolve(originOf(req.socket), req.rawHeaders, listener.scheme);
    if (client instanceof HttpError) {
      this.reject(req, sink, client);
      return;
    }
    // node:http reads a keepAliveTimeout of 0 as "never time out"; --keep-alive 0 means "close".
    if (h1 !== null && this.options.keepAliveMs === 0) h1.shouldKeepAlive = false;
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
    // HTTP/2 frames its own body (RFC 9113 §8.1): without Content-Length it runs to END_STREAM.
    if (flags === 0 && isH2Request(req) && !req.stream.endAfterHeaders) flags = RequestFlags.HAS_BODY | RequestFlags.CHUNKED;
    let exchange: HttpExchange | null = null;
    let stopReceiving: (() => void) | null = null;
    const failRequest = (error: HttpError): void => {
      stopReceiving?.();
      exchange?.abort();
      this.reject(req, sink, error);
    };
    if (h1 !== null && !isH2Request(req)) this.connections.track(req, h1, failRequest);
    const start = Date.now();
    const startHr = performance.now();
    res.once('close', () => {
      stopReceiving?.();
      // A client that left while sending its body was never dispatched nor answered: no line.
      if (exchange === null && !res.headersSent) return;
      if (exchange && !sink.delivered) exchange.abort();
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
        done: (error, body) => {
          // The whole body is in, trailers too: a forbidden trailer is refused before the app runs.
          const refusal = error ?? (flags & RequestFlags.CHUNKED ? checkTrailers(req.rawTrailers) : null);
          if (refusal) this.reject(req, sink, refusal);
          else send(body);
        },
      });
      return;
    }
    // Streamed (--stream-request-paths): the body flows to the app as it arrives.
    let body: Readable = req;
    const maxBody = this.options.limits.body;
    if (flags & RequestFlags.CHUNKED && maxBody > 0) body = req.pipe(new BodyLimit(maxBody, () => failRequest(bodyTooLarge(maxBody))));
    if (flags & RequestFlags.CHUNKED) {
      // Trailers arrive with the end of a chunked body; this listener runs before the channel's.
      req.once('end', () => {
        const bad = checkTrailers(req.rawTrailers);
        if (bad) failRequest(bad);
      });
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
  private reject(req: AnyRequest, sink: HttpResponseSink, error: HttpError): void {
    this.log.debug(`${error.status} for ${req.socket.remoteAddress ?? 'unix socket'}: ${error.message}`);
    if (!isH2Request(req)) this.connections.closeAfterResponse(req.socket);
    sink.fail(error, true);
  }
}

/** How often node:http looks for connections past --header-timeout (its default 30 s when none). */
function checkingInterval(timeoutMs: number): number {
  return timeoutMs === 0 ? 30_000 : sweepInterval(timeoutMs);
}
