/**
 * --send-timeout: a client that takes none of the bytes waiting for it for this long is cut off.
 *
 * Slow readers cost no Python worker (the sink spools what they leave), but each still holds a
 * connection slot and up to --max-temp-file-size of disk. A client that never reads would hold
 * them for ever; nginx's send_timeout and waitress's channel_timeout close such a connection, and
 * so do we. The clock runs only while output waits on the socket and restarts whenever the client
 * takes some of it, so a slow but steady download is never cut.
 *
 * One sweep timer serves every watched socket (there is no timer per request on the fast path);
 * a socket is watched only from the moment the sink finds it full.
 */
import type { Socket } from 'node:net';
import type { Logger } from '../../log/logger';
import { sweepInterval } from '../conn/sweep';
import { unsentInHandle } from '../node-internals';

interface Watched {
  socket: Socket;
  /** What the socket still holds, when it last changed. */
  mark: string;
  since: number;
  /** Closes the connection (an HTTP/2 session's socket can only be closed through the session). */
  cut: () => void;
}

/**
 * A fingerprint of the socket's output: it changes when the client takes bytes (a partial write
 * shrinks libuv's queue, a finished one shrinks the stream's buffer) and when more is queued,
 * which the sink only does once the socket drained, so that too means the client read.
 */
function progressMark(socket: Socket): string {
  return `${socket.writableLength}/${unsentInHandle(socket)}/${socket.bytesWritten}`;
}

export class SendWatch {
  /**
   * An array and a WeakSet, not a Map: sockets come and go here at the rate of large responses,
   * and a Map churned like that rebuilds its table again and again, each discarded table kept
   * alive by the one before it through scavenges (see workers/stream-table.ts).
   */
  private watched: Watched[] = [];
  private readonly members = new WeakSet<Socket>();
  private timer: NodeJS.Timeout | null = null;
  private readonly intervalMs: number;

  /** timeoutMs: --send-timeout in ms; 0 turns the watch off. */
  constructor(
    private readonly timeoutMs: number,
    private readonly log: Logger,
  ) {
    this.intervalMs = sweepInterval(timeoutMs);
  }

  /** The sink found `socket` full: time it until the output waiting there has gone. */
  watch(socket: Socket, cut: () => void): void {
    if (this.timeoutMs === 0 || socket.destroyed || this.members.has(socket)) return;
    this.members.add(socket);
    this.watched.push({ socket, mark: progressMark(socket), since: performance.now(), cut });
    this.timer ??= setInterval(this.sweep, this.intervalMs).unref();
  }

  private readonly sweep = (): void => {
    const now = performance.now();
    const kept: Watched[] = [];
    for (const entry of this.watched) {
      const socket = entry.socket;
      if (socket.destroyed || socket.writableLength === 0) {
        // Gone, or caught up: the sink watches it again if it falls behind again.
        this.members.delete(socket);
        continue;
      }
      const mark = progressMark(socket);
      if (mark !== entry.mark) {
        entry.mark = mark;
        entry.since = now;
        kept.push(entry);
      } else if (now - entry.since < this.timeoutMs) {
        kept.push(entry);
      } else {
        this.members.delete(socket);
        this.log.debug(
          `closing connection from ${socket.remoteAddress ?? 'unknown'}: the client took none of ` +
            `${socket.writableLength} waiting bytes in ${(this.timeoutMs / 1000).toFixed(1)} s (--send-timeout)`,
        );
        entry.cut();
      }
    }
    this.watched = kept;
    if (kept.length === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  };
}
