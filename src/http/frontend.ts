/**
 * The HTTP front: a server on every bind address (node:http; node:https with TLS; node:http2 with
 * TLS and h2, which hands HTTP/1.1 connections to node:http's code), turning each request, of
 * whichever version, into an Exchange for the dispatcher (handler.ts) and each response back
 * into bytes and an access-log line. The lean engine (lean/) serves plain HTTP/1.1 unless
 * --http-engine node, or this Node's internals are not ones it was checked on.
 */
import { createServer } from 'node:http';
import { Http2ServerResponse } from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Exchange } from '../exchange';
import type { RequestLog } from '../log/access';
import type { Logger } from '../log/logger';
import { ConnectionCap } from './conn/connection-cap';
import { Connections } from './conn/connections';
import { Drain } from './conn/drain';
import { sweepInterval } from './conn/sweep';
import type { AnyRequest, AnyResponse, FrontServer } from './engine';
import { createH2Server } from './h2';
import { RequestHandler, type HandlerOptions } from './handler';
import { LeanServer, LeanTlsServer } from './lean/server';
import { llhttp } from './node-internals';
import type { ListenerInfo } from './request/environ';
import { h2Limits, serverLimits } from './request/limits';
import { respondWithError } from './response/error-response';
import { SendWatch } from './response/send-watch';
import { wireFor } from './response/wire';
import { refusedPeer, type TlsSetup } from './tls';

export interface FrontendOptions extends HandlerOptions {
  /** --http-engine: what serves plain-HTTP/1.1 listeners. */
  engine: 'node' | 'lean';
  /** Used by listeners created with scheme 'https'. */
  tls: TlsSetup | null;
  /** --header-timeout in ms; 0 = none. */
  headerTimeoutMs: number;
  /** --send-timeout in ms; 0 = none. */
  sendTimeoutMs: number;
  /** --worker-connections; 0 = no cap. */
  maxConnections: number;
  /** gunicorn's http2_* settings, advertised in each HTTP/2 session's SETTINGS frame. */
  h2: H2Settings;
}

export interface H2Settings {
  maxConcurrentStreams: number;
  initialWindowSize: number;
  maxFrameSize: number;
  maxHeaderListSize: number;
}

export class Frontend {
  constructor(
    private readonly options: FrontendOptions,
    dispatch: (exchange: Exchange) => void,
    private readonly log: Logger,
    access: RequestLog | null,
  ) {
    this.connections = new Connections(log);
    this.drainState = new Drain(this.connections);
    this.cap = new ConnectionCap(options.maxConnections, log);
    const sendWatch = new SendWatch(options.sendTimeoutMs, log);
    this.handler = new RequestHandler(options, { connections: this.connections, drain: this.drainState, cap: this.cap, sendWatch, dispatch, log, access });
  }

  /**
   * The server stops: from now on every response closes its connection (HTTP/2: GOAWAY), so
   * keep-alive clients stop sending. The caller closes the idle connections.
   */
  drain(): void {
    this.drainState.active = true;
  }

  get draining(): boolean {
    return this.drainState.active;
  }

  private readonly connections: Connections;
  private readonly drainState: Drain;
  private readonly cap: ConnectionCap;
  private readonly handler: RequestHandler;
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
    else {
      const limits = h2Limits(this.options.limits);
      // The request limits bound the header list too: the smaller of the two is advertised.
      const settings = { ...this.options.h2, maxHeaderListSize: Math.min(this.options.h2.maxHeaderListSize, limits.settings.maxHeaderListSize) };
      server = createH2Server({ ...tls.options, allowHTTP1: tls.h1, maxHeaderListPairs: limits.maxHeaderListPairs, settings }, this.options.keepAliveMs, this.drainState);
    }
    // Set as properties: node:http ignores maxHeadersCount as a constructor option, and an HTTP/2
    // server hands its HTTP/1.1 connections to node:http's code, which reads these from the server.
    Object.assign(server, http1);
    if (tls !== null) this.watchTls(server, tls);
    this.cap.watch(server, tls === null);
    server.on('request', (req: AnyRequest, res: AnyResponse) => this.handler.handle(req, res, listener, false));
    // Expect: 100-continue: answered at once for buffered bodies, by the app for streamed ones.
    server.on('checkContinue', (req: AnyRequest, res: AnyResponse) => this.handler.handle(req, res, listener, true));
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => this.connections.clientError(err, socket));
    server.on('connect', (req: AnyRequest, socket: Socket | Http2ServerResponse) => {
      // A WSGI app cannot tunnel: refuse CONNECT rather than drop the connection silently.
      this.log.debug(`rejected CONNECT ${req.url ?? req.headers[':authority']} from ${req.socket.remoteAddress}`);
      // node:http2 passes an HTTP/2 CONNECT's response, node:http the HTTP/1 connection's socket.
      if (socket instanceof Http2ServerResponse) return respondWithError(wireFor(socket), 405);
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
}

/** How often node:http looks for connections past --header-timeout (its default 30 s when none). */
function checkingInterval(timeoutMs: number): number {
  return timeoutMs === 0 ? 30_000 : sweepInterval(timeoutMs);
}
