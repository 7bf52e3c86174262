/**
 * HTTP/2 over TLS through node:http2's compatibility API, so that an HTTP/2 stream reaches the
 * same request handler as an HTTP/1 request. What node:http does for HTTP/1 connections and
 * node:http2 leaves to the server is here: an idle timeout per session, and closing sessions
 * gracefully (GOAWAY) or at once on shutdown.
 */
import { constants, createSecureServer, type Http2SecureServer, type SecureServerOptions, type ServerHttp2Session } from 'node:http2';
import type { Drain } from './conn/drain';
import type { FrontServer } from './engine';
import { closeHttp1Connections } from './node-internals';

/**
 * Before its first request a session may wait as long as node:http lets an HTTP/1 connection
 * wait for its first request head (its headersTimeout default); after that, --keep-alive.
 */
const FIRST_REQUEST_MS = 60_000;

/** RST_STREAM code for a response that cannot be completed (RFC 9113 §7). */
export const STREAM_ABORT_CODE = constants.NGHTTP2_INTERNAL_ERROR;

/** `drain`: once it is active, a session that opens a stream is sent GOAWAY, the stream finishing. */
export function createH2Server(options: SecureServerOptions, keepAliveMs: number, drain: Drain): Http2SecureServer & FrontServer {
  const server = createSecureServer(options);
  const sessions = new Set<ServerHttp2Session>();
  server.on('session', (session: ServerHttp2Session) => {
    sessions.add(session);
    let open = 0;
    let timer: NodeJS.Timeout | undefined;
    const idleFor = (ms: number): void => {
      timer = setTimeout(() => session.close(), ms);
      timer.unref();
    };
    idleFor(FIRST_REQUEST_MS);
    session.on('stream', (stream) => {
      open++;
      clearTimeout(timer);
      if (drain.active) session.close();
      stream.once('close', () => {
        if (--open > 0 || session.closed || session.destroyed) return;
        // --keep-alive 0 closes after each response, as for HTTP/1: here, after the last open stream.
        if (keepAliveMs > 0) idleFor(keepAliveMs);
        else session.close();
      });
    });
    session.once('close', () => {
      clearTimeout(timer);
      sessions.delete(session);
    });
  });
  // With allowHTTP1, HTTP/1.1 connections are node:http's to close; the sessions are ours.
  return Object.assign(server, {
    closeIdleConnections(): void {
      closeHttp1Connections(server, 'idle');
      // GOAWAY: no new streams, the open ones finish, then the connection closes.
      for (const session of sessions) session.close();
    },
    closeAllConnections(): void {
      closeHttp1Connections(server, 'all');
      for (const session of sessions) session.destroy();
    },
  });
}
