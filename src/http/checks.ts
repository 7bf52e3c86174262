/**
 * Request checks llhttp leaves to the server. Each returns a reason for a 400, or null.
 */
import type { IncomingMessage } from 'node:http';

export function checkRequest(req: IncomingMessage): string | null {
  const raw = req.rawHeaders;
  let hosts = 0;
  let contentTypes = 0;
  let transferEncoding = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 4 && name.toLowerCase() === 'host') hosts++;
    else if (name.length === 12 && name.toLowerCase() === 'content-type') contentTypes++;
    else if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') transferEncoding = true;
  }
  // llhttp parses "HTTP/2.0" in an HTTP/1 request line; that is no HTTP/1 message (RFC 9112 §2.3).
  if (req.httpVersionMajor !== 1) return `HTTP/${req.httpVersion} request line over HTTP/1`;
  // RFC 9112 §3.2: a request with more than one Host field must be rejected with 400.
  if (hosts > 1) return 'duplicate Host header';
  // Content-Type is a singleton (RFC 9110 §8.3): two values joined by "," would be one garbled
  // type, and front ends disagree on which one wins.
  if (contentTypes > 1) return 'duplicate Content-Type header';
  // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 cannot be trusted (a smuggling vector).
  if (transferEncoding && req.httpVersion === '1.0') return 'Transfer-Encoding in an HTTP/1.0 request';
  // RFC 9112 §3.2.4: the asterisk form is only for OPTIONS.
  if (req.url === '*' && req.method !== 'OPTIONS') return `asterisk-form target with ${req.method}`;
  return null;
}
