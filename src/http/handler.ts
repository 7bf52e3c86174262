/**
 * One request, from its parsed head to the dispatcher, and its access-log line at the close:
 * admitted on its connection, checked, its client resolved through the proxy trust, its environ
 * and framing built, then dispatched with no body, a buffered one (the worker sees the request
 * once the body is whole) or a streamed one (--stream-request-paths).
 */
import type { Readable } from 'node:stream';
import type { Exchange, Pairs } from '../exchange';
import { HttpError } from '../errors';
import type { RequestLog } from '../log/access';
import type { Logger } from '../log/logger';
import type { RequestStats } from '../ops/request-stats';
import { RequestFlags } from '../protocol/frames';
import type { ConnectionCap } from './conn/connection-cap';
import type { Connections } from './conn/connections';
import type { Drain } from './conn/drain';
import { isH2Request, isH2Response, type AnyRequest, type AnyResponse } from './engine';
import type { Client, ProxyTrust } from './proxy/forwarded';
import { originOf } from './proxy/origin';
import { checkRequest, checkTrailers, endsConnection } from './request/checks';
import { buildEnviron, splitTarget, type ListenerInfo } from './request/environ';
import { BodyLimit, bodyTooLarge, checkLimits, type Limits } from './request/limits';
import { receiveBody, type BodyOptions } from './request/receive';
import type { RequestIds } from './request/request-id';
import type { SendWatch } from './response/send-watch';
import type { StaticFiles } from './static/serve';
import { HttpResponseSink, type SpoolSettings } from './response/sink';
import { wireFor } from './response/wire';

/** The settings a request's path reads (the part of FrontendOptions that is not about servers). */
export interface HandlerOptions {
  /** --keep-alive in ms. */
  keepAliveMs: number;
  scriptName: string;
  limits: Limits;
  /** --forwarded-allow-ips and --secure-scheme-headers, compiled. */
  trust: ProxyTrust;
  /** --body-timeout in ms and --body-min-rate: how slowly a buffered body may arrive. */
  bodyTimeoutMs: number;
  bodyMinRate: number;
  /** PATH_INFO prefixes whose bodies stream to the app unbuffered (--stream-request-paths). */
  streamPaths: readonly string[];
  /** Memory and temp-file room for bodies a slow party has not taken yet. */
  spool: SpoolSettings;
  /** --metrics-bind: what each request adds to /metrics (null: not counted). */
  stats?: RequestStats | null;
  /** --static-map's files, answered here before dispatch; null without a mount. */
  statics: StaticFiles | null;
  /** --request-id-header; null when off. */
  requestIds: RequestIds | null;
}

/** What the front end keeps per connection and per process, shared with every request. */
export interface HandlerParts {
  connections: Connections;
  /** Set while the server stops: responses close their connections. */
  drain: Drain;
  cap: ConnectionCap;
  sendWatch: SendWatch;
  dispatch: (exchange: Exchange) => void;
  log: Logger;
  access: RequestLog | null;
}

class HttpExchange implements Exchange {
  aborted = false;
  private listeners: Array<() => void> | null = null;
  readonly arrivedAt = performance.now();
  workerPid = 0;

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

/** A request past its checks: what the steps after them share. */
interface Admitted {
  req: AnyRequest;
  sink: HttpResponseSink;
  environ: Pairs;
  flags: number;
  /** Set once dispatched. */
  exchange: HttpExchange | null;
  /** Stops receiving a buffered body (set while one arrives). */
  stopReceiving: (() => void) | null;
  /** The response closed (the client may have left while a static file was looked up). */
  closed: boolean;
  /** --request-id-header's id for it; undefined when that is off. */
  requestId: string | undefined;
}

export class RequestHandler {
  private readonly bodyOptions: BodyOptions;

  constructor(
    private readonly options: HandlerOptions,
    private readonly parts: HandlerParts,
  ) {
    const { memory, dir } = options.spool;
    this.bodyOptions = { memory, dir, maxBody: options.limits.body, timeoutMs: options.bodyTimeoutMs, minRate: options.bodyMinRate };
  }

  /** `expectContinue`: the request carries Expect: 100-continue (node:http's 'checkContinue'). */
  handle(req: AnyRequest, res: AnyResponse, listener: ListenerInfo, expectContinue: boolean): void {
    if (!this.admit(req, res)) return;
    const sink = new HttpResponseSink(wireFor(res, this.parts.drain), req.method === 'HEAD', this.parts.log, this.options.spool, this.parts.sendWatch);
    const client = this.vet(req, sink, listener);
    if (client === null) return;
    // node:http reads a keepAliveTimeout of 0 as "never time out"; --keep-alive 0 means "close".
    if (!isH2Response(res) && this.options.keepAliveMs === 0) res.shouldKeepAlive = false;
    const environ = buildEnviron(req, client, this.options.scriptName, listener);
    const ids = this.options.requestIds;
    let requestId: string | undefined;
    if (ids !== null) {
      requestId = ids.assign(environ);
      sink.echo(ids.header, requestId);
    }
    const request: Admitted = { req, sink, environ, flags: framing(req, environ), exchange: null, stopReceiving: null, closed: false, requestId };
    if (!isH2Response(res) && !isH2Request(req)) this.parts.connections.track(req, res, (error) => this.fail(request, error));
    this.logAtClose(request, res, client);
    if (!request.flags) this.sendBodiless(request);
    else if (this.streams(environ)) this.stream(request, expectContinue);
    else this.buffer(request, expectContinue);
  }

  /**
   * Whether the request may reach the app at all, on its connection: not on one past the
   * connection cap, nor pipelined behind a connection's last request. Marks the connection's
   * last request as such, so nothing parsed after it is served.
   */
  private admit(req: AnyRequest, res: AnyResponse): boolean {
    if (this.parts.cap.refused(req.socket)) return false;
    // HTTP/1 only: HTTP/2 streams are framed apart, so nothing is pipelined behind another.
    if (isH2Response(res) || isH2Request(req)) return true;
    // Pipelined behind a refused request, or behind the connection's last one: llhttp parsed
    // it, but it must never reach the app.
    if (this.parts.connections.closing(req.socket)) {
      this.parts.log.debug(`ignored ${req.method} request pipelined after the connection's last one`);
      req.resume();
      return false;
    }
    // The last request this connection serves: nothing parsed after it may reach the app.
    // While the server stops, every request is: a busy keep-alive client would otherwise keep
    // the stop waiting for its next request, and the next, until the graceful timeout.
    if (!res.shouldKeepAlive || endsConnection(req) || this.parts.drain.active) {
      res.shouldKeepAlive = false;
      this.parts.connections.closeAfterResponse(req.socket);
    }
    return true;
  }

  /** The request's checks and limits, then its client through the proxy trust; null when refused (and answered). */
  private vet(req: AnyRequest, sink: HttpResponseSink, listener: ListenerInfo): Client | null {
    const rejection = checkRequest(req) ?? checkLimits(req, this.options.limits);
    if (rejection) {
      this.reject(req, sink, rejection);
      return null;
    }
    const client = this.options.trust.resolve(originOf(req.socket), req.rawHeaders, listener.scheme);
    if (client instanceof HttpError) {
      this.reject(req, sink, client);
      return null;
    }
    return client;
  }

  /** The access-log line once the response closes (none for a client that left before dispatch and answer). */
  private logAtClose(request: Admitted, res: AnyResponse, client: Client): void {
    const { req, sink } = request;
    const start = Date.now();
    const startHr = performance.now();
    const stats = this.options.stats ?? null;
    stats?.started();
    res.once('close', () => {
      request.closed = true;
      request.stopReceiving?.();
      // A client that left while sending its body was never dispatched nor answered: no line.
      if (request.exchange === null && !res.headersSent) {
        stats?.left();
        return;
      }
      if (request.exchange && !sink.delivered) request.exchange.abort();
      stats?.ended(req.method, sink.status || res.statusCode, (performance.now() - startHr) / 1000, Number(req.headers['content-length']) || 0, sink.bytes);
      this.parts.access?.log({
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
        // Requests refused before any worker saw them were handled by this process.
        workerPid: request.exchange?.workerPid || process.pid,
        scheme: client.scheme,
        remotePort: client.remotePort,
        environ: request.environ,
        requestId: request.requestId,
      });
    });
  }

  /** A request without a body: a --static-map file when it names one, else the app's. */
  private sendBodiless(request: Admitted): void {
    const serving = this.options.statics?.serve(request.req, request.sink) ?? false;
    if (serving === false) {
      this.send(request, null);
      return;
    }
    serving.then(
      (served) => {
        if (!served && !request.closed) this.send(request, null);
      },
      (err: Error) => {
        this.parts.log.error(`static: ${request.req.method} ${request.req.url}: ${err.message}`);
        if (!request.closed && !request.sink.headersSent) this.send(request, null);
      },
    );
  }

  private send(request: Admitted, body: Readable | null): void {
    request.exchange = new HttpExchange(request.flags, request.environ, body, request.sink);
    this.parts.dispatch(request.exchange);
  }

  /** Buffered: the worker sees the request only once the body is whole. */
  private buffer(request: Admitted, expectContinue: boolean): void {
    const { req, sink } = request;
    const { log } = this.parts;
    // The client is told to go ahead at once, as nginx does; the app's reading decides nothing here.
    if (expectContinue) sink.sendContinue();
    request.stopReceiving = receiveBody(req, this.bodyOptions, {
      spilled: () => log.debug(`request body of ${req.method} ${req.url} past ${this.options.spool.memory} bytes: spooled to a temp file`),
      spoolFailed: (err) => {
        log.error(`cannot spool a request body in ${this.options.spool.dir}: ${err.message}`);
        if (request.exchange) {
          request.exchange.abort();
          sink.fail(new HttpError(500, 'ERR_SPOOL', err.message), true);
        }
      },
      done: (error, body) => {
        // The whole body is in, trailers too: a forbidden trailer is refused before the app runs.
        const refusal = error ?? (request.flags & RequestFlags.CHUNKED ? checkTrailers(req.rawTrailers) : null);
        if (refusal) this.reject(req, sink, refusal);
        else this.send(request, body);
      },
    });
  }

  /** Streamed (--stream-request-paths): the body flows to the app as it arrives. */
  private stream(request: Admitted, expectContinue: boolean): void {
    const { req } = request;
    let body: Readable = req;
    const maxBody = this.options.limits.body;
    const chunked = (request.flags & RequestFlags.CHUNKED) !== 0;
    if (chunked && maxBody > 0) body = req.pipe(new BodyLimit(maxBody, () => this.fail(request, bodyTooLarge(maxBody))));
    if (chunked) {
      // Trailers arrive with the end of a chunked body; this listener runs before the channel's.
      req.once('end', () => {
        const bad = checkTrailers(req.rawTrailers);
        if (bad) this.fail(request, bad);
      });
    }
    // Answering 100 Continue is then the app's call: only when it reads the body (PEP 3333).
    if (expectContinue) request.flags |= RequestFlags.EXPECT_CONTINUE;
    this.send(request, body);
  }

  /** The request went bad after its checks (its body): stop it wherever it is, and answer. */
  private fail(request: Admitted, error: HttpError): void {
    request.stopReceiving?.();
    request.exchange?.abort();
    this.reject(request.req, request.sink, error);
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
    this.parts.log.debug(`${error.status} for ${req.socket.remoteAddress ?? 'unix socket'}: ${error.message}`);
    if (!isH2Request(req)) this.parts.connections.closeAfterResponse(req.socket);
    sink.fail(error, true);
  }
}

/** The request's body framing, as the worker is told it. */
function framing(req: AnyRequest, environ: Pairs): number {
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
  return flags;
}
