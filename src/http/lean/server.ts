/**
 * The lean HTTP/1.1 engine (--http-engine lean): a node:net server (or a node:tls one, for
 * HTTP/1.1 over TLS) whose connections feed Node's own llhttp binding straight from the socket
 * (`consume`, as node:http does), with a request and a response object each that carry only
 * what nodicorn reads and writes. It emits
 * the events node:http's server emits ('request', 'checkContinue', 'connect', 'clientError') with
 * the same meaning, so the front end serves both engines with one handler.
 *
 * What node:http does per connection and this engine does too: keep-alive and its timeout
 * (--keep-alive), the head timeout (--header-timeout, one sweep for all connections), pipelined
 * responses in request order, a pause in reading while pipelined answers pile up, `Expect`,
 * CONNECT handed over, a client's half-close, parse errors reported with their llhttp code, and
 * closing idle or all connections on shutdown.
 */
import { Server, type Socket } from 'node:net';
import { Server as TlsServer, type TlsOptions } from 'node:tls';
import type { Llhttp } from '../node-internals';
import { sweepInterval } from '../conn/sweep';
import { LeanConnection, type LeanHost } from './connection';

/** node:http's margin over the advertised keep-alive timeout before it closes an idle connection. */
const KEEP_ALIVE_MARGIN_MS = 1000;
/** The constructor of node:net's Server or of a subclass (node:tls's). */
type ServerClass = new (...args: any[]) => Server;

/**
 * The lean engine's server side on top of `Base`, node:net's Server or node:tls's: each socket
 * the server hands over (`event`: node:net's 'connection', or node:tls's 'secureConnection' once
 * the handshake is done) gets a parser, and one timer serves every connection's timeouts.
 * (A class built by a function cannot have private members in TypeScript, hence none here.)
 */
function withLeanConnections<TBase extends ServerClass>(Base: TBase, event: 'connection' | 'secureConnection') {
  return class extends Base {
    keepAliveTimeout = 5000;
    headersTimeout = 60_000;
    maxHeaderSize = 16 * 1024;
    httpAllowHalfOpen = true;
    /** Set by the subclass's constructor. */
    declare readonly llhttp: Llhttp;
    readonly live = new Set<LeanConnection>();
    sweepTimer: NodeJS.Timeout | null = null;

    constructor(...args: any[]) {
      super(...args);
      this.on(event, (socket: Socket) => this.accept(socket));
      this.on('listening', () => this.startSweep());
      this.on('close', () => {
        if (this.sweepTimer) clearInterval(this.sweepTimer);
        this.sweepTimer = null;
      });
    }

    accept(socket: Socket): void {
      if (socket.destroyed) return;
      const conn = new LeanConnection(this, socket);
      this.live.add(conn);
      socket.once('close', () => this.live.delete(conn));
    }

    /**
     * One timer for every connection's timeouts, instead of a socket timer set and cleared per
     * request: the head timeout, and the keep-alive timeout with node:http's margin.
     */
    startSweep(): void {
      const idleMs = this.keepAliveTimeout > 0 ? this.keepAliveTimeout + KEEP_ALIVE_MARGIN_MS : 0;
      const every = Math.min(this.headersTimeout > 0 ? sweepInterval(this.headersTimeout) : Infinity, idleMs > 0 ? sweepInterval(idleMs) : Infinity);
      if (this.sweepTimer || every === Infinity) return;
      this.sweepTimer = setInterval(() => {
        const now = performance.now();
        for (const conn of this.live) conn.checkTimeouts(now, this.headersTimeout, idleMs);
      }, every);
      this.sweepTimer.unref();
    }

    /** Closes the connections that wait for a request (shutdown: the busy ones finish first). */
    closeIdleConnections(): void {
      for (const conn of this.live) if (conn.idle) conn.socket.destroy();
    }

    closeAllConnections(): void {
      for (const conn of this.live) conn.socket.destroy();
    }
  };
}

/** As node:http: the server decides when to end its side, and small answers are not delayed. */
const SOCKET_OPTIONS = { allowHalfOpen: true, noDelay: true };

export class LeanServer extends withLeanConnections(Server, 'connection') implements LeanHost {
  constructor(override readonly llhttp: Llhttp) {
    super(SOCKET_OPTIONS);
  }
}

/**
 * The lean engine behind TLS (HTTP/1.1 only; a listener that offers h2 is node:http2's). llhttp
 * consumes the TLS stream's plaintext, as node:https's parser does. ALPN, when the client uses
 * it, agrees on http/1.1, as node:https's default.
 */
export class LeanTlsServer extends withLeanConnections(TlsServer, 'secureConnection') implements LeanHost {
  constructor(
    override readonly llhttp: Llhttp,
    options: TlsOptions,
  ) {
    super({ ALPNProtocols: ['http/1.1'], ...options, ...SOCKET_OPTIONS });
  }
}
