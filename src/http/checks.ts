/**
 * Request checks llhttp leaves to the server. Each returns the HttpError to answer with, or null.
 */
import type { IncomingMessage } from 'node:http';
import { HttpError } from '../errors';

const bad = (reason: string): HttpError => new HttpError(400, 'ERR_BAD_REQUEST', reason);

export function checkRequest(req: IncomingMessage): HttpError | null {
  const raw = req.rawHeaders;
  let hosts = 0;
  let contentTypes = 0;
  let transferEncoding: string | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 4 && name.toLowerCase() === 'host') hosts++;
    else if (name.length === 12 && name.toLowerCase() === 'content-type') contentTypes++;
    else if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') {
      const value = raw[i + 1] as string;
      transferEncoding = transferEncoding === null ? value : `${transferEncoding},${value}`;
    }
  }
  // llhttp parses "HTTP/2.0" in an HTTP/1 request line; that is no HTTP/1 message (RFC 9112 §2.3).
  if (req.httpVersionMajor !== 1) return bad(`HTTP/${req.httpVersion} request line over HTTP/1`);
  // RFC 9112 §3.2: a request with more than one Host field must be rejected with 400, and so must
  // an HTTP/1.1 request with none.
  if (hosts > 1) return bad('duplicate Host header');
  if (hosts === 0 && req.httpVersionMinor === 1) return bad('HTTP/1.1 request without a Host header');
  // Content-Type is a singleton (RFC 9110 §8.3): two values joined by "," would be one garbled
  // type, and front ends disagree on which one wins.
  if (contentTypes > 1) return bad('duplicate Content-Type header');
  if (transferEncoding !== null) {
    // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 cannot be trusted (a smuggling vector).
    if (req.httpVersion === '1.0') return bad('Transfer-Encoding in an HTTP/1.0 request');
    const problem = checkTransferEncoding(transferEncoding);
    if (problem) return problem;
  }
  // RFC 9112 §3.2.4: the asterisk form is only for OPTIONS.
  if (req.url === '*' && req.method !== 'OPTIONS') return bad(`asterisk-form target with ${req.method}`);
  return null;
}

/**
 * The only transfer coding a WSGI server can hand to an app is chunked, once (llhttp already
 * refused a list that does not end in it). Anything before it (gzip, identity, a typo of
 * chunked) would reach the app still encoded: RFC 9112 §6.1 says 501 for a coding the server
 * does not understand, and chunked twice is an error (RFC 9112 §7).
 */
function checkTransferEncoding(value: string): HttpError | null {
  const codings = value.split(',').map((c) => c.trim().toLowerCase()).filter((c) => c !== '');
  if (codings.length === 1 && codings[0] === 'chunked') return null;
  if (codings.filter((c) => c === 'chunked').length > 1) return bad('chunked applied more than once');
  const other = codings.find((c) => c !== 'chunked') ?? value;
  return new HttpError(501, 'ERR_TRANSFER_CODING', `unsupported transfer coding ${JSON.stringify(other)}`);
}

/**
 * Fields a trailer must not carry (RFC 9110 §6.5.1): those that frame the message, control the
 * connection, route it, or authenticate it. WSGI never shows trailers to the app, but a proxy in
 * front may merge them into the header section, so such a trailer is refused, not dropped.
 * (Content metadata such as Content-Type is left alone: clients do send it, gunicorn's valid/012.)
 */
const FORBIDDEN_TRAILERS = new Set([
  'content-length', 'transfer-encoding', 'trailer',
  'connection', 'keep-alive', 'te', 'upgrade',
  'host',
  'authorization', 'proxy-authorization',
]);

export function checkTrailers(rawTrailers: string[]): HttpError | null {
  for (let i = 0; i < rawTrailers.length; i += 2) {
    const name = (rawTrailers[i] as string).toLowerCase();
    if (FORBIDDEN_TRAILERS.has(name)) return bad(`${rawTrailers[i]} in the chunked trailer section`);
  }
  return null;
}

/**
 * Whether the request asks to close the connection after its response (RFC 9112 §9.6). llhttp
 * sets its own flag only for an exact token: "close" followed by a tab slips past it, so the
 * header is read here as a list, OWS trimmed.
 */
export function asksToClose(req: IncomingMessage): boolean {
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length !== 10 || name.toLowerCase() !== 'connection') continue;
    for (const token of (raw[i + 1] as string).split(',')) {
      if (token.trim().toLowerCase() === 'close') return true;
    }
  }
  return false;
}
