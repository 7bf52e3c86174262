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
import { buildEnviron, splitTarget, type ListenerInfo } from './environ';
import { checkRequest, checkTrailers, endsConnection } from './checks';
import { Connections } from './connections';
import { BodyLimit, checkLimits, h2Limits, serverLimits, type Limits } from './limits';
import type { Readable } from 'node:stream';
import { HttpResponseSink, respondWithError } from './sink';
import { HttpError } from '../errors';
import { refusedPeer, type TlsSetup } from './tls';
import { createH2Server, isH2Request, isH2Response, type AnyRequest, type AnyResponse, type FrontServer } from './h2';
import type { ProxyTrust } from './forwarded';
import { originOf } from './origin';

export interface FrontendOptions {
  keepAliveMs: number;
  scriptName: string;
  limits: Limits;
  /** Used by listeners created with scheme 'https'. */
  tls: TlsSetup | null;
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
  ) {
    this.connections = new Connections(log);
  }

  private readonly connections: Connections;

  createServer(listener: ListenerInfo): FrontServer {
    const tls = listener.scheme === 'https' ? this.options.tls : null;
    const http1 = {
      keepAliveTimeout: this.options.keepAliveMs,
      // Bodies are streamed to the worker: a whole-request deadline would cut long uploads.
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
    if (tls === null) server = createServer(http1);
    else if (!tls.h2) server = createHttpsServer({ ...tls.options, ...http1 });
    else server = createH2Server({ ...tls.options, allowHTTP1: tls.h1, ...h2Limits(this.options.limits) }, this.options.keepAliveMs);
    // Set as properties: node:http ignores maxHeadersCount as a constructor option, and an HTTP/2
    // server hands its HTTP/1.1 connections to node:http's code, which reads these from the server.
    Object.assign(server, http1);
    if (tls !== null) this.watchTls(server, tls);
    server.on('request', (req: AnyRequest, res: AnyResponse) => this.handle(req, res, listener, false));
    // Answering 100 Continue is the app's call: only when it reads the body (PEP 3333).
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
    const sink = new HttpResponseSink(res, isHead, this.log);
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
    if (h1 !== null && !isH2Request(req)) this.connections.track(req, h1, failRequest);
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
      if (!sink.delivered) exchange.abort();
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
  private reject(req: AnyRequest, sink: HttpResponseSink, error: HttpError): void {
    this.log.debug(`${error.status} for ${req.socket.remoteAddress ?? 'unix socket'}: ${error.message}`);
    if (!isH2Request(req)) this.connections.closeAfterResponse(req.socket);
    sink.fail(error, true);
  }
}
