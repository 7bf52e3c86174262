/**
 * The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2), parsed from the
 * first bytes of a connection. Pure: Buffers in, a verdict out; proxy-intake.ts owns the sockets.
 *
 *   v1 (text, at most 107 bytes with its CRLF):
 *     "PROXY" SP ("TCP4" | "TCP6") SP src SP dst SP srcport SP dstport CRLF
 *     "PROXY" SP "UNKNOWN" [anything] CRLF
 *
 *   v2 (binary, 16 bytes + length):
 *      0                   1                   2                   3
 *      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *     +-------------------------------------------------------------------+
 *     |  signature: \r\n\r\n\0\r\nQUIT\n (12 bytes)                        |
 *     +---------------+---------------+-------------------------------+---+
 *     | ver 2 | cmd   | family| trans |  length (big-endian, bytes after) |
 *     +---------------+---------------+-----------------------------------+
 *     | addresses: INET 4+4+2+2, INET6 16+16+2+2, UNIX 108+108; then TLVs  |
 *     +-------------------------------------------------------------------+
 *     cmd 0 LOCAL (the proxy's own connection: keep the peer address), 1 PROXY.
 *     family 0 UNSPEC, 1 INET, 2 INET6, 3 UNIX; transport 0 UNSPEC, 1 STREAM, 2 DGRAM.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** The client a proxy speaks for. */
export interface ProxyInfo {
  version: 1 | 2;
  /** gunicorn's PROXY_PROTOCOL environ value. */
  protocol: 'TCP4' | 'TCP6';
  sourceAddress: string;
  sourcePort: number;
  destinationAddress: string;
  destinationPort: number;
}

export type ProxyVerdict =
  /** The bytes so far could still become a header (or be one that is not complete yet). */
  | { kind: 'incomplete' }
  /** The connection does not start with a PROXY header: hand every byte to HTTP. */
  | { kind: 'none' }
  | { kind: 'invalid'; reason: string }
  /**
   * A complete header of `length` bytes. `info` is null when it names no client (v1 UNKNOWN,
   * v2 LOCAL, a UNIX or unspecified address): the connection keeps its own peer address.
   */
  | { kind: 'header'; length: number; info: ProxyInfo | null };

const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
/** proxy-protocol.txt §2.1: "PROXY UNKNOWN" with the longest TCP6 fields and CRLF. */
export const V1_MAX_LENGTH = 107;
const V2_FIXED = 16;

/** Compares buf with sig over their common length: a shorter buf may still grow into sig. */
function startsLike(buf: Buffer, sig: Buffer): boolean {
  const n = Math.min(buf.length, sig.length);
  return buf.compare(sig, 0, n, 0, n) === 0;
}

/** Which header the bytes begin with, as soon as that can be told. */
export function detectProxyHeader(buf: Buffer): 'v1' | 'v2' | 'none' | 'incomplete' {
  if (buf.length === 0) return 'incomplete';
  if (startsLike(buf, V1_PREFIX)) return buf.length >= V1_PREFIX.length ? 'v1' : 'incomplete';
  if (startsLike(buf, V2_SIGNATURE)) return buf.length >= V2_SIGNATURE.length ? 'v2' : 'incomplete';
  return 'none';
}

export function parseProxyHeader(buf: Buffer): ProxyVerdict {
  const kind = detectProxyHeader(buf);
  if (kind === 'v1') return parseV1(buf);
  if (kind === 'v2') return parseV2(buf);
  return { kind };
}

const PORT = /^\d{1,5}$/;

function parsePort(text: string): number | null {
  if (!PORT.test(text)) return null;
  const port = Number(text);
  return port <= 65535 ? port : null;
}

function parseV1(buf: Buffer): ProxyVerdict {
  // The CR may sit at most at byte 105, so that CRLF ends by byte 107.
  const lastCR = V1_MAX_LENGTH - 2;
  const limit = Math.min(buf.length, lastCR + 1);
  let end = -1;
  for (let i = V1_PREFIX.length; i < limit; i++) {
    const c = buf[i] as number;
    if (c === 0x0d) {
      if (i + 1 >= buf.length) return { kind: 'incomplete' };
      if (buf[i + 1] !== 0x0a) return { kind: 'invalid', reason: 'v1 header: CR not followed by LF' };
      end = i;
      break;
    }
    // The line is printable US-ASCII; anything else (a bare LF, NUL, 8-bit) is no PROXY line.
    if (c < 0x20 || c > 0x7e) return { kind: 'invalid', reason: `v1 header: byte 0x${c.toString(16).padStart(2, '0')} in the line` };
  }
  if (end < 0) {
    return buf.length > lastCR ? { kind: 'invalid', reason: `v1 header: no CRLF within ${V1_MAX_LENGTH} bytes` } : { kind: 'incomplete' };
  }
  const line = buf.toString('latin1', 0, end);
  const length = end + 2;
  const fields = line.split(' ');
  const protocol = fields[1];
  // UNKNOWN: the proxy cannot say who the client is; the rest of the line is to be ignored.
  if (protocol === 'UNKNOWN') return { kind: 'header', length, info: null };
  if (protocol !== 'TCP4' && protocol !== 'TCP6') return { kind: 'invalid', reason: `v1 header: unknown protocol "${protocol ?? ''}"` };
  if (fields.length !== 6) return { kind: 'invalid', reason: `v1 header: expected 6 fields separated by single spaces, got "${line}"` };
  const [, , src, dst, sport, dport] = fields as [string, string, string, string, string, string];
  const valid = protocol === 'TCP4' ? isIPv4 : (a: string) => isIPv6(a) && !a.includes('%');
  if (!valid(src) || !valid(dst)) return { kind: 'invalid', reason: `v1 header: bad ${protocol} address in "${line}"` };
  const sourcePort = parsePort(sport);
  const destinationPort = parsePort(dport);
  if (sourcePort === null || destinationPort === null) return { kind: 'invalid', reason: `v1 header: bad port in "${line}"` };
  return { kind: 'header', length, info: { version: 1, protocol, sourceAddress: src, sourcePort, destinationAddress: dst, destinationPort } };
}

const Family = { UNSPEC: 0, INET: 1, INET6: 2, UNIX: 3 } as const;
const Transport = { UNSPEC: 0, STREAM: 1, DGRAM: 2 } as const;
/** Bytes of the address block each family needs (proxy-protocol.txt §2.2). */
const ADDRESS_BYTES: Record<number, number> = { [Family.UNSPEC]: 0, [Family.INET]: 12, [Family.INET6]: 36, [Family.UNIX]: 216 };

function parseV2(buf: Buffer): ProxyVerdict {
  if (buf.length < V2_FIXED) return { kind: 'incomplete' };
  const verCmd = buf[12] as number;
  if (verCmd >> 4 !== 2) return { kind: 'invalid', reason: `v2 header: version ${verCmd >> 4}` };
  const command = verCmd & 0x0f;
  if (command > 1) return { kind: 'invalid', reason: `v2 header: unknown command ${command}` };
  const famTrans = buf[13] as number;
  const family = famTrans >> 4;
  const transport = famTrans & 0x0f;
  const needed = ADDRESS_BYTES[family];
  if (needed === undefined || transport > Transport.DGRAM) {
    return { kind: 'invalid', reason: `v2 header: unknown address family/transport 0x${famTrans.toString(16).padStart(2, '0')}` };
  }
  const bodyLength = buf.readUInt16BE(14);
  const length = V2_FIXED + bodyLength;
  // A LOCAL header's addresses are to be ignored; a PROXY one must hold its family's block.
  if (command === 1 && bodyLength < needed) return { kind: 'invalid', reason: `v2 header: ${bodyLength} address bytes, family needs ${needed}` };
  if (buf.length < length) return { kind: 'incomplete' };
  // Only a TCP connection has the address of an HTTP client; anything else keeps the peer's.
  if (command === 0 || transport !== Transport.STREAM || (family !== Family.INET && family !== Family.INET6)) {
    return { kind: 'header', length, info: null };
  }
  let info: ProxyInfo;
  if (family === Family.INET) {
    info = {
      version: 2,
      protocol: 'TCP4',
      sourceAddress: formatIPv4(buf, 16),
      destinationAddress: formatIPv4(buf, 20),
      sourcePort: buf.readUInt16BE(24),
      destinationPort: buf.readUInt16BE(26),
    };
  } else {
    info = {
      version: 2,
      protocol: 'TCP6',
      sourceAddress: formatIPv6(buf, 16),
      destinationAddress: formatIPv6(buf, 32),
      sourcePort: buf.readUInt16BE(48),
      destinationPort: buf.readUInt16BE(50),
    };
  }
  // Type-length-value extensions (ALPN, authority, SSL info...) follow: nothing here needs them.
  return { kind: 'header', length, info };
}

function formatIPv4(buf: Buffer, at: number): string {
  return `${buf[at] as number}.${buf[at + 1] as number}.${buf[at + 2] as number}.${buf[at + 3] as number}`;
}

/** RFC 5952 text: lower-case hex, the longest run of two or more zero groups as "::", IPv4-mapped in dotted form. */
export function formatIPv6(buf: Buffer, at: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(buf.readUInt16BE(at + i * 2));
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) return `::ffff:${formatIPv4(buf, at + 12)}`;
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}
