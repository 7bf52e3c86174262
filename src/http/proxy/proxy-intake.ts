/**
 * --proxy-protocol: a net.Server that accepts each connection, reads a PROXY header (v1 or v2)
 * off its first bytes, and hands the socket, with the bytes after the header put back, to the
 * server that speaks the protocol: node:http, or node:https / node:http2 once TLS is on (the
 * header comes before the TLS handshake, so any net.Server subclass is a valid target).
 *
 * The header is optional, as in gunicorn: a connection that does not start with one is handed
 * over untouched (gunicorn's corpus case valid/pp_03 expects exactly that). That is safe because
 * a header is believed only from --proxy-allow-from peers; from any other peer it closes the
 * connection. So does a malformed header, or one that does not arrive in time. Each close is
 * logged at debug level with its reason.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../../log/logger';
import type { AddressList } from './address-list';
import { detectProxyHeader, parseProxyHeader, type ProxyInfo } from './proxy-protocol';
import { recordOrigin } from './origin';

export interface ProxyIntakeOptions {
  /** --proxy-allow-from. */
  allow: AddressList;
  /** How long a connection may take to send its header before it is closed. */
  headerTimeoutMs: number;
  log: Logger;
}

/** The net.Server to listen on instead of `target`; it feeds `target` its connections. */
export function createProxyIntake(target: Server, options: ProxyIntakeOptions): Server {
  const intake = createServer((socket) => readHeader(socket, target, options));
  // node:http starts tracking its connections (idle closing, header timeouts) when it starts
  // listening; it never listens itself here, so it hears when the intake does.
  intake.on('listening', () => target.emit('listening'));
  return intake;
}

function readHeader(socket: Socket, target: Server, options: ProxyIntakeOptions): void {
  const { allow, log } = options;
  const origin = recordOrigin(socket, null);
  const peer = origin.local ? 'unix socket' : `${origin.address}:${origin.port ?? ''}`;
  let buffered: Buffer | null = null;

  const close = (reason: string): void => {
    finish();
    log.debug(`PROXY protocol: closed connection from ${peer}: ${reason}`);
    socket.destroy();
  };
  const onData = (chunk: Buffer): void => {
    const buf: Buffer = buffered ? Buffer.concat([buffered, chunk]) : chunk;
    buffered = buf;
    const kind = detectProxyHeader(buf);
    if (kind === 'incomplete') return;
    if (kind === 'none') {
      handOff(buf, null);
      return;
    }
    // Refused as soon as it is recognisably a header: a stranger's header is never buffered.
    if (!origin.local && !allow.has(origin.address)) {
      close(`PROXY ${kind} header from a peer not in --proxy-allow-from`);
      return;
    }
    const verdict = parseProxyHeader(buf);
    if (verdict.kind === 'incomplete') return;
    if (verdict.kind === 'header') handOff(buf.subarray(verdict.length), verdict.info);
    else close(verdict.kind === 'invalid' ? verdict.reason : 'not a PROXY header');
  };
  const onEnd = (): void => close('connection ended inside the PROXY header');
  const onError = (err: NodeJS.ErrnoException): void => close(`socket error ${err.code ?? err.message}`);
  const onClose = (): void => finish();
  const timer = setTimeout(() => close(`no complete PROXY header within ${options.headerTimeoutMs} ms`), options.headerTimeoutMs);

  function finish(): void {
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('end', onEnd);
    socket.off('error', onError);
    socket.off('close', onClose);
  }

  function handOff(rest: Buffer, info: ProxyInfo | null): void {
    finish();
    // Stop the flow before putting bytes back: flowing, they would be emitted to no listener.
    socket.pause();
    if (rest.length > 0) socket.unshift(rest);
    if (info) recordOrigin(socket, info);
    target.emit('connection', socket);
    // node:http reads new bytes straight from the handle but takes the ones put back through a
    // 'data' listener, which does not restart a paused stream; node:tls drains them itself.
    if (socket.readableFlowing === false && socket.listenerCount('data') > 0) socket.resume();
  }

  socket.on('data', onData);
  socket.on('end', onEnd);
  socket.on('error', onError);
  socket.on('close', onClose);
}
