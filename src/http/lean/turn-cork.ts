/**
 * Holds a socket's writes until the end of this event-loop turn, so that the pieces of a body
 * written from several reads of a worker's pipe leave in one writev.
 *
 * Why: a big response reaches Node in 64 KiB pipe reads, each its own callback. Written one by
 * one, every piece costs a TCP send and a wake-up of the client's reader; on loopback the
 * kernel's delivery and wake-up run in Node's time. Held until setImmediate (which runs after
 * the turn's I/O callbacks), the pieces of one turn go out in one send, which costs Node less
 * CPU per big download (measured in bench/, see docs/perf-journal.md). node:http's own cork lasts
 * a tick only, which ends with each read's callback.
 *
 * One immediate serves every held socket. A response that ends releases its socket at once, so
 * an answer that comes whole in one read is not delayed, and its 'finish' bookkeeping sees an
 * empty socket buffer as before. Only the lean engine holds, and only on plain TCP: over TLS,
 * what an immediate uncorks is still in TLS's write when the sink's slow-client check runs, so
 * held TLS answers look slow and go to the spool (measured in bench/, see docs/perf-journal.md).
 */
import type { Socket } from 'node:net';

const held = new Set<Socket>();

function releaseAll(): void {
  for (const socket of held) socket.uncork();
  held.clear();
}

/** Corks `socket` until the end of this turn (once: holding a held socket again is a no-op). */
export function holdForTurn(socket: Socket): void {
  if (held.has(socket)) return;
  socket.cork();
  held.add(socket);
  if (held.size === 1) setImmediate(releaseAll);
}

/** Sends what `socket` holds now, before the turn ends (the response ended). */
export function releaseNow(socket: Socket): void {
  if (held.delete(socket)) socket.uncork();
}
