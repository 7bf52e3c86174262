/**
 * Request checks llhttp (or, for HTTP/2, nghttp2) leaves to the server. Each returns a reason for
 * a 400, or null.
 */
import { isH2Request, type AnyRequest } from './h2';

export function checkRequest(req: AnyRequest): string | null {
  const raw = req.rawHeaders;
  const h2 = isH2Request(req);
  let hosts = 0;
  let host = '';
  let authority: string | null = null;
  let contentTypes = 0;
  let transferEncoding = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 4 && name.toLowerCase() === 'host') {
      hosts++;
      host = raw[i + 1] as string;
    } else if (name === ':authority') authority = raw[i + 1] as string;
    else if (name.length === 12 && name.toLowerCase() === 'content-type') contentTypes++;
    else if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') transferEncoding = true;
  }
  // nghttp2 already refused what RFC 9113 §8.2 calls malformed (connection-specific fields,
  // uppercase names, CR/LF/NUL in values, missing or repeated pseudo-headers). §8.3.1: a Host
  // naming another authority than :authority is malformed too; which one an app reads must not matter.
  if (h2 && hosts > 0 && authority !== null && host.trim().toLowerCase() !== authority.toLowerCase()) return 'Host differs from :authority';
  // llhttp parses "HTTP/2.0" in an HTTP/1 request line; that is no HTTP/1 message (RFC 9112 §2.3).
  if (!h2 && req.httpVersionMajor !== 1) return `HTTP/${req.httpVersion} request line over HTTP/1`;
  // RFC 9112 §3.2: a request with more than one Host field must be rejected with 400.
  if (hosts > 1) return 'duplicate Host header';
  // Content-Type is a singleton (RFC 9110 §8.3): two values joined by "," would be one garbled
  // type, and front ends disagree on which one wins.
  if (contentTypes > 1) return 'duplicate Content-Type header';
  // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 cannot be trusted (a smuggling vector).
  if (transferEncoding && req.httpVersion === '1.0') return 'Transfer-Encoding in an HTTP/1.0 request';
  // RFC 9112 §3.2.4 (RFC 9113 §8.3.1 for :path): the asterisk form is only for OPTIONS.
  if (req.url === '*' && req.method !== 'OPTIONS') return `asterisk-form target with ${req.method}`;
  return null;
}
