/**
 * Where a connection comes from: its peer (an IP address and port, or a UNIX socket) and the
 * client a PROXY protocol header named for it. Recorded once per raw TCP socket and found again
 * from whatever socket a request carries: the raw one (HTTP/1), a TLSSocket that wraps it, or
 * the Proxy node:http2 puts around that TLSSocket. Each wrapper reaches the socket it wraps
 * through `_parent`, the one node:tls sets (stable since Node 0.x, and checked by a unit test).
 */
import type { Socket } from 'node:net';
import { acceptedOnUnixSocket, wrappedSocket } from '../node-internals';
import type { ProxyInfo } from './proxy-protocol';

export interface Origin {
  /** The peer is a UNIX socket: no address, and trusted like gunicorn trusts it (file permissions guard it). */
  readonly local: boolean;
  /** The peer's IP address; '' when unknown (a connection already gone). */
  readonly address: string;
  readonly port: number | undefined;
  /** The client named by a PROXY header from an allowed peer; null without one. */
  readonly proxy: ProxyInfo | null;
}

const origins = new WeakMap<object, Origin>();

/** How far to follow `_parent`: TLSSocket → raw socket, with room for one more layer. */
const MAX_DEPTH = 3;

function describe(socket: Socket, proxy: ProxyInfo | null): Origin {
  return { local: acceptedOnUnixSocket(socket), address: socket.remoteAddress ?? '', port: socket.remotePort, proxy };
}

/** Called by the PROXY intake before the socket reaches the HTTP server. */
export function recordOrigin(socket: Socket, proxy: ProxyInfo | null): Origin {
  const origin = describe(socket, proxy);
  origins.set(socket, origin);
  return origin;
}

/** The origin of the connection a request came on; described (and cached) on first use. */
export function originOf(socket: Socket): Origin {
  let current: unknown = socket;
  let innermost: Socket = socket;
  for (let depth = 0; depth < MAX_DEPTH && current !== null && typeof current === 'object'; depth++) {
    const found = origins.get(current);
    if (found) return found;
    innermost = current as Socket;
    current = wrappedSocket(current);
  }
  return recordOrigin(innermost, null);
}
