/**
 * Request checks llhttp (or, for HTTP/2, nghttp2) leaves to the server. Each returns the
 * HttpError to answer with, or null.
 */
import { HttpError } from '../../errors';
import { isH2Request, type AnyRequest, type H1Request } from '../engine';

const bad = (reason: string): HttpError => new HttpError(400, 'ERR_BAD_REQUEST', reason);

export function checkRequest(req: AnyRequest): HttpError | null {
  const raw = req.rawHeaders;
  const h2 = isH2Request(req);
  let hosts = 0;
  let host = '';
  let authority: string | null = null;
  let contentTypes = 0;
  let transferEncoding: string | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (looksLikeFraming(name)) return bad(`header ${JSON.stringify(name)} looks like Content-Length or Transfer-Encoding`);
    if (name.length === 4 && name.toLowerCase() === 'host') {
      hosts++;
      host = raw[i + 1] as string;
    } else if (name === ':authority') authority = raw[i + 1] as string;
    else if (name.length === 12 && name.toLowerCase() === 'content-type') contentTypes++;
    else if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') {
      const value = raw[i + 1] as string;
      transferEncoding = transferEncoding === null ? value : `${transferEncoding},${value}`;
    }
  }
  // nghttp2 already refused what RFC 9113 §8.2 calls malformed (connection-specific fields,
  // uppercase names, CR/LF/NUL in values, missing or repeated pseudo-headers). §8.3.1: a Host
  // naming another authority than :authority is malformed too; which one an app reads must not matter.
  if (h2 && hosts > 0 && authority !== null && host.trim().toLowerCase() !== authority.toLowerCase()) return bad('Host differs from :authority');
  // llhttp parses "HTTP/2.0" in an HTTP/1 request line; that is no HTTP/1 message (RFC 9112 §2.3).
  if (!h2 && req.httpVersionMajor !== 1) return bad(`HTTP/${req.httpVersion} request line over HTTP/1`);
  // RFC 9112 §3.2: a request with more than one Host field must be rejected with 400, and so must
  // an HTTP/1.1 request with none (HTTP/2 names the authority in :authority).
  if (hosts > 1) return bad('duplicate Host header');
  if (!h2 && hosts === 0 && req.httpVersionMinor === 1) return bad('HTTP/1.1 request without a Host header');
  // Content-Type is a singleton (RFC 9110 §8.3): two values joined by "," would be one garbled
  // type, and front ends disagree on which one wins.
  if (contentTypes > 1) return bad('duplicate Content-Type header');
  if (transferEncoding !== null) {
    // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 cannot be trusted (a smuggling vector).
    if (req.httpVersion === '1.0') return bad('Transfer-Encoding in an HTTP/1.0 request');
    const problem = checkTransferEncoding(transferEncoding);
    if (problem) return problem;
  }
  // RFC 9112 §3.2.4 (RFC 9113 §8.3.1 for :path): the asterisk form is only for OPTIONS.
  const url = req.url ?? '';
  if (url === '*' && req.method !== 'OPTIONS') return bad(`asterisk-form target with ${req.method}`);
  // llhttp also lets "*/x" and "*x" through: no request-target form at all (RFC 9112 §3.2), and
  // the app would get a PATH_INFO that does not start with "/" (PEP 3333).
  if (url.charCodeAt(0) === 42 /* * */ && url !== '*') return bad(`request target ${JSON.stringify(url.slice(0, 40))} is no request-target form`);
  return null;
}

/**
 * Content_Length, Transfer___Encoding and the like: WSGI drops names with "_" (they would alias
 * in environ), but a front end that maps "_" to "-" or ignores punctuation would frame the
 * message by them, so a request carrying one is refused rather than framed differently.
 */
function looksLikeFraming(name: string): boolean {
  if (name.length < 14 || name.length > 40) return false;
  const letters = name.toLowerCase().replace(/[^a-z]/g, '');
  if (letters !== 'contentlength' && letters !== 'transferencoding') return false;
  const lower = name.toLowerCase();
  return lower !== 'content-length' && lower !== 'transfer-encoding';
}

/**
 * The only transfer coding a WSGI server can hand to an app is chunked, once, without
 * parameters. RFC 9112 §6.3: a request whose final coding is not chunked has no reliable length,
 * so 400 and close; §7: chunked is never applied twice. A coding before chunked (gzip,
 * identity) would reach the app still encoded: §6.1 says 501 for a coding the server does not
 * understand.
 */
function checkTransferEncoding(value: string): HttpError | null {
  const codings = value.split(',').map((c) => c.trim().toLowerCase()).filter((c) => c !== '');
  if (codings.length === 1 && codings[0] === 'chunked') return null;
  if (codings[codings.length - 1] !== 'chunked') return bad(`Transfer-Encoding ${JSON.stringify(value)} does not end in chunked`);
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
 * Whether this request must be the connection's last (RFC 9112 §9.6). Either it asks for that —
 * read here as a token list with OWS trimmed, since llhttp's own flag misses "close" followed by
 * a tab — or it is a GET or HEAD with a body: such a body has no defined meaning (RFC 9110
 * §9.3.1), a front end may not have framed it the way llhttp did, so the request is answered
 * but nothing after it on the connection is trusted.
 */
export function endsConnection(req: H1Request): boolean {
  const raw = req.rawHeaders;
  const bodiless = req.method === 'GET' || req.method === 'HEAD';
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    if (name.length === 10 && name.toLowerCase() === 'connection') {
      for (const token of value.split(',')) if (token.trim().toLowerCase() === 'close') return true;
    } else if (bodiless && name.length === 17 && name.toLowerCase() === 'transfer-encoding') {
      return true;
    } else if (bodiless && name.length === 14 && name.toLowerCase() === 'content-length' && value.trim() !== '0') {
      return true;
    }
  }
  return false;
}
