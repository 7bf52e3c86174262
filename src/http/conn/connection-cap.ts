/**
 * --worker-connections: a cap on the client connections open at once, over every listener. Past
 * it a new connection gets a 503 at once and is closed without its request being read; the
 * connections already open keep being served. Only open connections count, idle keep-alive
 * ones included, so the cap bounds the sockets (and spools) that slow clients can hold.
 */
import type { Server, Socket } from 'node:net';
import type { Logger } from '../../log/logger';

const BODY = '503 Service Unavailable\n';
const REFUSAL = `HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${BODY.length}\r\nConnection: close\r\n\r\n${BODY}`;
/** How long a refused connection may linger for the client to read the 503 and close. */
const LINGER_MS = 1000;

export class ConnectionCap {
  private open = 0;
  private readonly refusedSockets = new WeakSet<Socket>();

  /** `max` 0: no cap. */
  constructor(
    private readonly max: number,
    private readonly log: Logger,
  ) {}

  /** Counts `server`'s connections. `plaintext`: the 503 can be written as HTTP/1 bytes (no TLS). */
  watch(server: Server, plaintext: boolean): void {
    if (this.max === 0) return;
    // Before node:http's own listener, so a refused socket is marked before any request on it.
    server.prependListener('connection', (socket: Socket) => {
      if (this.open >= this.max) {
        this.refuse(socket, plaintext);
        return;
      }
      this.open++;
      socket.once('close', () => this.open--);
    });
  }

  /** A request parsed on a refused connection is not served. */
  refused(socket: Socket): boolean {
    return this.refusedSockets.has(socket);
  }

  private refuse(socket: Socket, plaintext: boolean): void {
    this.refusedSockets.add(socket);
    this.log.debug(`503 for ${socket.remoteAddress ?? 'unix socket'}: ${this.max} connections open (--worker-connections)`);
    socket.on('error', () => {});
    if (!plaintext) {
      socket.destroy();
      return;
    }
    // end() rather than destroy(): closing with the client's request unread would send a reset,
    // which can discard the 503 before the client reads it.
    socket.end(REFUSAL);
    setTimeout(() => socket.destroy(), LINGER_MS).unref();
  }
}
