/**
 * Proxy headers: who the client is (REMOTE_ADDR, REMOTE_PORT) and which scheme it used
 * (wsgi.url_scheme), believed only from a peer on --forwarded-allow-ips.
 *
 * - The peer is the TCP peer, or the client a PROXY header named (that header already stood for
 *   the proxy hop: a client behind HAProxy must not be trusted because HAProxy is).
 *   A UNIX-socket peer is trusted, as in gunicorn.
 * - The address: X-Forwarded-For (all its fields joined in order) or, when a request has none,
 *   RFC 7239 Forwarded `for=`. The list is walked from the right, from the peer: each hop is
 *   believed only if the node that reported it is trusted, so the walk stops at the first
 *   untrusted address (the client; anything left of it is the client's own claim) or at an
 *   entry that is no IP address ("unknown", "_hidden", garbage), keeping the last good one.
 *   Forwarded is not read when X-Forwarded-For is present: the common proxies (nginx, AWS ALB)
 *   append X-Forwarded-For but pass a client's own Forwarded header through untouched.
 * - The scheme: gunicorn's --secure-scheme-headers (each occurrence says https when its value
 *   is the configured one, else http) and, when Forwarded is used, the `proto=` of the element
 *   the walk reached. If they disagree the request gets gunicorn's 400 "Contradictory scheme
 *   headers" rather than a guess.
 * - The headers themselves stay in the environ (HTTP_X_FORWARDED_FOR...) for apps and
 *   middleware such as Werkzeug's ProxyFix.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { HttpError } from '../../errors';
import { AddressList } from './address-list';
import type { Origin } from './origin';
import type { ProxyInfo } from './proxy-protocol';

export interface ProxyTrustOptions {
  /** --forwarded-allow-ips. */
  forwardedAllowIps: readonly string[];
  /** --secure-scheme-headers: header name → the value that means https. */
  secureSchemeHeaders: Readonly<Record<string, string>>;
  /** --forwarder-headers: upper-case environ names a trusted peer may set by a same-named header. */
  forwarderHeaders?: readonly string[];
}

export type Scheme = 'http' | 'https';

/** What the environ says about the client. */
export interface Client {
  remoteAddr: string;
  /** '' when unknown (a UNIX socket, or a forwarded address without a port). */
  remotePort: string;
  scheme: Scheme;
  /** The PROXY header the connection started with, for gunicorn's PROXY_* environ keys. */
  proxy: ProxyInfo | null;
  /** --forwarder-headers a trusted peer sent: environ name → value. null when none. */
  forwarded: Record<string, string> | null;
}

/** One entry of X-Forwarded-For or one element of Forwarded. */
export interface Hop {
  /** null when the entry names no IP address ("unknown", an obfuscated "_name", garbage). */
  address: string | null;
  port?: number;
  /** Forwarded `proto=`, lower-case. */
  proto?: string;
}

export const CONTRADICTORY_SCHEME = 'Contradictory scheme headers';

export class ProxyTrust {
  readonly allow: AddressList;
  /** lower-case header name → lower-case value meaning https. */
  private readonly schemeHeaders: Map<string, string>;
  /** Lengths of the header names looked at, to skip the others without lower-casing them. */
  private readonly lengths = new Set<number>([15 /* x-forwarded-for */, 9 /* forwarded */]);
  /** lower-case --forwarder-headers name → its environ name. */
  private readonly forwarders = new Map<string, string>();

  constructor(options: ProxyTrustOptions) {
    this.allow = new AddressList(options.forwardedAllowIps);
    this.schemeHeaders = new Map(Object.entries(options.secureSchemeHeaders).map(([k, v]) => [k.toLowerCase(), v.trim().toLowerCase()]));
    for (const name of this.schemeHeaders.keys()) this.lengths.add(name.length);
    for (const name of options.forwarderHeaders ?? []) {
      this.forwarders.set(name.toLowerCase(), name);
      this.lengths.add(name.length);
    }
  }

  /** The client of one request, or an HttpError (400) for contradictory scheme headers. */
  resolve(origin: Origin, rawHeaders: readonly string[], listenerScheme: Scheme): Client | HttpError {
    const proxy = origin.proxy;
    const peer = proxy ? proxy.sourceAddress : origin.address;
    const client: Client = {
      remoteAddr: peer,
      remotePort: portText(proxy ? proxy.sourcePort : origin.port),
      scheme: listenerScheme,
      proxy,
      forwarded: null,
    };
    if (!((origin.local && !proxy) || this.allow.has(peer))) return client;

    let forwardedFor: string[] | null = null;
    let forwarded: string[] | null = null;
    // Allocated only when a scheme header is present: this runs for every request from a trusted peer.
    let verdicts: Set<Scheme> | null = null;
    for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
      const name = rawHeaders[i] as string;
      if (!this.lengths.has(name.length)) continue;
      const lower = name.toLowerCase();
      const value = rawHeaders[i + 1] as string;
      if (lower === 'x-forwarded-for') (forwardedFor ??= []).push(value);
      else if (lower === 'forwarded') (forwarded ??= []).push(value);
      const secure = this.schemeHeaders.get(lower);
      if (secure !== undefined) (verdicts ??= new Set()).add(value.trim().toLowerCase() === secure ? 'https' : 'http');
      const environName = this.forwarders.get(lower);
      // The first one counts, as with any header that cannot be joined.
      if (environName !== undefined && client.forwarded?.[environName] === undefined) (client.forwarded ??= {})[environName] = value.trim();
    }

    const hops = forwardedFor ? parseForwardedFor(forwardedFor.join(',')) : forwarded ? (parseForwarded(forwarded.join(',')) ?? []) : [];
    const reached = this.walk(hops);
    if (reached.hop) {
      client.remoteAddr = reached.hop.address ?? client.remoteAddr;
      client.remotePort = portText(reached.hop.port);
    }
    const proto = schemeOf(reached.proto);
    if (proto) (verdicts ??= new Set()).add(proto);
    if (verdicts) {
      if (verdicts.size > 1) return new HttpError(400, 'ERR_SCHEME_HEADERS', CONTRADICTORY_SCHEME);
      for (const v of verdicts) client.scheme = v;
    }
    return client;
  }

  /**
   * From the (trusted) peer leftwards: a hop is read only when the node that reported it is
   * trusted. Returns the hop reached (null: the peer itself) and the last `proto` read.
   */
  walk(hops: readonly Hop[]): { hop: Hop | null; proto: string | undefined } {
    let hop: Hop | null = null;
    let proto: string | undefined;
    for (let i = hops.length - 1; i >= 0; i--) {
      const next = hops[i] as Hop;
      if (next.proto !== undefined) proto = next.proto;
      if (next.address === null) break;
      hop = next;
      if (!this.allow.has(next.address)) break;
    }
    return { hop, proto };
  }
}

function portText(port: number | undefined): string {
  return port === undefined ? '' : String(port);
}

function schemeOf(proto: string | undefined): Scheme | null {
  if (proto === 'https' || proto === 'wss') return 'https';
  if (proto === 'http' || proto === 'ws') return 'http';
  return null;
}

/**
 * One node: 192.0.2.1, 192.0.2.1:8080, 2001:db8::1, [2001:db8::1], [2001:db8::1]:8080. A port
 * that is not a number (RFC 7239's obfuscated "_abc") leaves the port unknown.
 */
export function parseNode(text: string): Hop {
  const node = text.trim();
  let host = node;
  let portPart: string | undefined;
  if (node.startsWith('[')) {
    const close = node.indexOf(']');
    if (close < 0) return { address: null };
    host = node.slice(1, close);
    const rest = node.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return { address: null };
      portPart = rest.slice(1);
    }
    if (!isIPv6(host) || host.includes('%')) return { address: null };
  } else if (isIPv6(node) && !node.includes('%')) {
    return { address: node };
  } else {
    const colon = node.indexOf(':');
    if (colon >= 0) {
      host = node.slice(0, colon);
      portPart = node.slice(colon + 1);
    }
    if (!isIPv4(host)) return { address: null };
  }
  if (portPart !== undefined && /^\d{1,5}$/.test(portPart) && Number(portPart) <= 65535) return { address: host, port: Number(portPart) };
  return { address: host };
}

export function parseForwardedFor(value: string): Hop[] {
  return value.split(',').map(parseNode);
}

const TCHAR = /[!#$%&'*+.^_`|~0-9A-Za-z-]/;

/**
 * RFC 7239 §4: elements separated by ",", pairs by ";", each pair token=value where the value is
 * a token or a quoted-string. Returns one Hop per element (for= and proto=), or null when the
 * header does not parse: then it is ignored whole rather than half-believed.
 */
export function parseForwarded(value: string): Hop[] | null {
  const hops: Hop[] = [];
  let hop: Hop = { address: null };
  let i = 0;
  const n = value.length;
  const skipWhitespace = (): void => {
    while (i < n && (value[i] === ' ' || value[i] === '\t')) i++;
  };
  skipWhitespace();
  while (i < n) {
    const c = value[i] as string;
    if (c === ',' || c === ';') {
      if (c === ',') {
        hops.push(hop);
        hop = { address: null };
      }
      i++;
      skipWhitespace();
      continue;
    }
    const nameStart = i;
    while (i < n && TCHAR.test(value[i] as string)) i++;
    if (i === nameStart || value[i] !== '=') return null;
    const name = value.slice(nameStart, i).toLowerCase();
    i++;
    let text = '';
    if (value[i] === '"') {
      i++;
      let closed = false;
      while (i < n) {
        const q = value[i] as string;
        if (q === '\\' && i + 1 < n) {
          text += value[i + 1];
          i += 2;
        } else if (q === '"') {
          closed = true;
          i++;
          break;
        } else {
          text += q;
          i++;
        }
      }
      if (!closed) return null;
    } else {
      const start = i;
      while (i < n && TCHAR.test(value[i] as string)) i++;
      text = value.slice(start, i);
    }
    if (name === 'for') {
      const node = parseNode(text);
      hop.address = node.address;
      if (node.port !== undefined) hop.port = node.port;
    } else if (name === 'proto') {
      hop.proto = text.toLowerCase();
    }
    skipWhitespace();
    if (i < n && value[i] !== ',' && value[i] !== ';') return null;
  }
  hops.push(hop);
  return hops;
}
