/**
 * Builds the CGI part of a WSGI environ (PEP 3333) from what llhttp parsed. The worker adds the
 * wsgi.* objects. Every value is a latin-1 string: one code point per byte on the wire.
 */
import type { Pairs } from '../../exchange';
import type { AnyRequest } from '../engine';
import type { Client } from '../proxy/forwarded';

export interface ListenerInfo {
  scheme: 'http' | 'https';
  /** The socket's path, for a unix-socket listener (--bind unix:PATH). */
  unixPath?: string;
}

/** Splits a request target into path and query (RFC 9112 §3.2: origin, absolute, asterisk form). */
export function splitTarget(target: string): { path: string; query: string } {
  let end = target.indexOf('#');
  if (end < 0) end = target.length;
  let path = target;
  let query = '';
  const q = target.indexOf('?');
  if (q >= 0 && q < end) {
    path = target.slice(0, q);
    query = target.slice(q + 1, end);
  } else {
    path = target.slice(0, end);
  }
  if (path.charCodeAt(0) !== 47 /* / */) {
    // absolute-form (http://host/path): the path is what follows the authority.
    const scheme = path.indexOf('://');
    if (scheme > 0) {
      const slash = path.indexOf('/', scheme + 3);
      path = slash < 0 ? '/' : path.slice(slash);
    } else if (path === '*') {
      // OPTIONS *: PEP 3333 wants PATH_INFO empty or starting with "/".
      path = '';
    }
  }
  return { path, query };
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  c |= 0x20;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/**
 * Percent-decodes to bytes and returns them as latin-1 (PEP 3333), never through UTF-8.
 * A '%' not followed by two hex digits stays as it is.
 */
export function percentDecodeLatin1(path: string): string {
  if (path.indexOf('%') < 0) return path;
  let out = '';
  let from = 0;
  for (let i = path.indexOf('%'); i >= 0 && i + 2 < path.length; i = path.indexOf('%', i + 1)) {
    const hi = hexValue(path.charCodeAt(i + 1));
    const lo = hexValue(path.charCodeAt(i + 2));
    if (hi < 0 || lo < 0) continue;
    out += path.slice(from, i) + String.fromCharCode(hi * 16 + lo);
    from = i + 3;
    i += 2;
  }
  return out + path.slice(from);
}

/** Maps a header name to its environ key, or null for names WSGI cannot carry unambiguously. */
const keyCache = new Map<string, string | null>();
export function environKey(name: string): string | null {
  let key = keyCache.get(name);
  if (key !== undefined) return key;
  if (name.includes('_')) {
    // Content_Length would alias CONTENT_LENGTH (a smuggling vector): drop, as gunicorn does.
    key = null;
  } else {
    const upper = name.toUpperCase().replace(/-/g, '_');
    key = upper === 'CONTENT_TYPE' || upper === 'CONTENT_LENGTH' ? upper : 'HTTP_' + upper;
  }
  if (keyCache.size < 4096) keyCache.set(name, key);
  return key;
}

const HTTP_VERSIONS: Record<string, string> = { '1.0': 'HTTP/1.0', '1.1': 'HTTP/1.1', '2.0': 'HTTP/2' };

/**
 * SERVER_NAME and SERVER_PORT on a unix socket, which has neither, from the Host header as
 * gunicorn does (PEP 3333 wants both non-empty): "example.com:8080", or the scheme's port when
 * Host has none. Without Host (HTTP/1.0), the socket's path and the scheme's port (gunicorn
 * leaves the port empty).
 */
function unixServer(req: AnyRequest, listener: ListenerInfo): [string, string] {
  const defaultPort = listener.scheme === 'https' ? '443' : '80';
  let host: string | undefined;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length && host === undefined; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    if (name === 'host' || name === ':authority') host = (raw[i + 1] as string).trim();
  }
  if (!host) return [listener.unixPath ?? 'localhost', defaultPort];
  // "[::1]:8000": the port is what follows the bracket.
  const colon = host.lastIndexOf(':');
  if (colon < 0 || colon < host.lastIndexOf(']')) return [host, defaultPort];
  return [host.slice(0, colon), host.slice(colon + 1) || defaultPort];
}

/** `client` is who the request is from (forwarded.ts): the peer, or whom a trusted proxy names. */
export function buildEnviron(req: AnyRequest, client: Client, scriptName: string, listener: ListenerInfo): Pairs {
  const target = req.url ?? '/';
  const { path, query } = splitTarget(target);
  const forwarded = client.forwarded;
  let pathInfo = forwarded?.PATH_INFO ?? percentDecodeLatin1(path);
  let script = '';
  const proxyScript = forwarded?.SCRIPT_NAME;
  if (proxyScript !== undefined) {
    // The front end says where the app is mounted (--forwarder-headers). A proxy that passes the
    // whole path gets the mount taken off it; one that stripped it already gets the path as is.
    script = proxyScript.replace(/\/+$/, '');
    if (pathInfo === script || pathInfo.startsWith(script + '/')) pathInfo = pathInfo.slice(script.length);
  } else if (scriptName && (pathInfo === scriptName || pathInfo.startsWith(scriptName + '/'))) {
    script = scriptName;
    pathInfo = pathInfo.slice(scriptName.length);
  }
  const socket = req.socket;
  const [serverName, serverPort] = socket.localPort === undefined ? unixServer(req, listener) : [socket.localAddress ?? '', String(socket.localPort)];
  const environ: Pairs = [
    ['REQUEST_METHOD', req.method ?? 'GET'],
    ['SCRIPT_NAME', script],
    ['PATH_INFO', pathInfo],
    ['QUERY_STRING', query],
    ['RAW_URI', target],
    ['SERVER_PROTOCOL', HTTP_VERSIONS[req.httpVersion] ?? 'HTTP/' + req.httpVersion],
    ['SERVER_NAME', serverName],
    ['SERVER_PORT', serverPort],
    ['REMOTE_ADDR', client.remoteAddr],
    ['REMOTE_PORT', client.remotePort],
    ['wsgi.url_scheme', client.scheme],
  ];
  if (forwarded) {
    // Any other --forwarder-headers name (REMOTE_USER…): set, or replace the value above.
    for (const name in forwarded) {
      if (name === 'SCRIPT_NAME' || name === 'PATH_INFO') continue;
      const value = forwarded[name] as string;
      const at = environ.findIndex((pair) => pair[0] === name);
      if (at >= 0) environ[at] = [name, value];
      else environ.push([name, value]);
    }
  }
  const proxy = client.proxy;
  if (proxy) {
    // gunicorn's names: the PROXY header's protocol and the address the proxy was reached at.
    environ.push(['PROXY_PROTOCOL', proxy.protocol], ['PROXY_ADDR', proxy.destinationAddress], ['PROXY_PORT', String(proxy.destinationPort)]);
  }
  const raw = req.rawHeaders;
  let first = 0;
  let authority: string | undefined;
  const h2 = req.httpVersionMajor === 2;
  if (h2) {
    // HTTP/2's pseudo-header fields come first (RFC 9113 §8.3); :method and :path are already
    // REQUEST_METHOD and the target above, :scheme is the listener's, never the client's word.
    for (; first < raw.length && (raw[first] as string).charCodeAt(0) === 58 /* : */; first += 2) {
      if (raw[first] === ':authority') authority = raw[first + 1];
    }
  }
  // Duplicates are joined with "," (RFC 9110 §5.3); an index keeps that linear.
  let seen: Map<string, number> | undefined;
  for (let i = first; i < raw.length; i += 2) {
    const key = environKey(raw[i] as string);
    if (key === null) continue;
    const value = (raw[i + 1] as string).trim();
    seen ??= new Map();
    const at = seen.get(key);
    if (at === undefined) {
      seen.set(key, environ.length);
      environ.push([key, value]);
    } else {
      const pair = environ[at] as [string, string];
      // HTTP/2 clients may split Cookie into one field per cookie; RFC 9113 §8.2.3 joins them with "; ".
      pair[1] = pair[1] + (h2 && key === 'HTTP_COOKIE' ? '; ' : ',') + value;
    }
  }
  // RFC 9113 §8.3.1: :authority stands in for Host, which HTTP/2 clients need not send.
  if (authority !== undefined && !seen?.has('HTTP_HOST')) environ.push(['HTTP_HOST', authority]);
  return environ;
}
