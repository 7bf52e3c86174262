/**
 * The front end's side of a graceful stop. Once the server drains, every HTTP/1.1 response
 * (those already in flight included, as long as their head has not gone out) says
 * `Connection: close` and is its connection's last, and each HTTP/2 session is sent GOAWAY once
 * its current stream is open: clients on keep-alive connections stop sending, so what is queued
 * and in flight can finish within --graceful-timeout instead of being refilled forever.
 */
import type { Socket } from 'node:net';

/** What the drain asks of connections.ts (an interface, so that the response code can import this file). */
export interface ConnectionMarks {
  closing(socket: Socket): boolean;
  closeAfterResponse(socket: Socket): void;
}

export class Drain {
  /** Set once, when the server starts to stop (SIGTERM, SIGINT, the API's close()). */
  active = false;

  constructor(private readonly connections: ConnectionMarks) {}

  /**
   * Whether the HTTP/1.1 response about to be written on `socket` must close its connection;
   * when it must, nothing parsed after it on that connection reaches the app.
   */
  closes(socket: Socket | null): boolean {
    if (!this.active) return false;
    if (socket && !this.connections.closing(socket)) this.connections.closeAfterResponse(socket);
    return true;
  }
}
