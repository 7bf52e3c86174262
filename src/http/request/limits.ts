/**
 * gunicorn's request limits, checked on what llhttp parsed, and the node:http options that let
 * those limits (not Node's own caps) decide. 0 means unlimited everywhere.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { HttpError } from '../../errors';
import type { AnyRequest } from '../engine';

export interface Limits {
  requestLine: number;
  fields: number;
  fieldSize: number;
  body: number;
}

/** Node's ceiling on the whole head when a limit is off: large, but still a ceiling. */
const UNLIMITED_HEAD = 16 * 1024 * 1024;

/** node:http options: the head may be as large as the limits allow, and no field is dropped. */
export function serverLimits(limits: Limits): { maxHeaderSize: number; maxHeadersCount: number } {
  const { requestLine, fields, fieldSize } = limits;
  const head = requestLine === 0 || fields === 0 || fieldSize === 0 ? UNLIMITED_HEAD : requestLine + 2 + fields * (fieldSize + 2) + 2;
  // Node's default maxHeadersCount (2000) silently drops fields past it; with one more than the
  // limit we see the excess and answer 431 instead.
  return { maxHeaderSize: Math.max(head, 16 * 1024), maxHeadersCount: fields === 0 ? 0 : fields + 1 };
}

/**
 * node:http2 options for the same limits. HTTP/2 counts the pseudo-header fields (:method, :path,
 * :scheme, :authority) among the header list and adds 32 bytes per field (RFC 9113 §6.5.2,
 * SETTINGS_MAX_HEADER_LIST_SIZE); beyond these node:http2 resets the stream, so they are set
 * one field above the limits and checkLimits answers 431 as for HTTP/1.
 */
export function h2Limits(limits: Limits): { maxHeaderListPairs: number; settings: { maxHeaderListSize: number } } {
  const { maxHeaderSize } = serverLimits(limits);
  const pairs = limits.fields === 0 ? UNLIMITED_HEAD / 32 : limits.fields + 1 + PSEUDO_HEADERS;
  return { maxHeaderListPairs: pairs, settings: { maxHeaderListSize: maxHeaderSize + pairs * 32 } };
}

const PSEUDO_HEADERS = 4;

export function checkLimits(req: AnyRequest, limits: Limits): HttpError | null {
  // "METHOD SP target SP HTTP/x.y" (RFC 9112 §3).
  const line = (req.method?.length ?? 0) + (req.url?.length ?? 0) + 10;
  if (limits.requestLine > 0 && line > limits.requestLine) {
    return new HttpError(414, 'ERR_LIMIT_REQUEST_LINE', `request line of ${line} bytes exceeds --limit-request-line ${limits.requestLine}`);
  }
  const raw = req.rawHeaders;
  // HTTP/2's pseudo-header fields (first in the list, RFC 9113 §8.3) are its request line: they
  // count towards --limit-request-line above, not towards the header field limits.
  let first = 0;
  while (first < raw.length && (raw[first] as string).charCodeAt(0) === 58 /* : */) first += 2;
  if (limits.fields > 0 && (raw.length - first) / 2 > limits.fields) {
    return new HttpError(431, 'ERR_LIMIT_REQUEST_FIELDS', `more than --limit-request-fields ${limits.fields} header fields`);
  }
  let contentLength = -1;
  for (let i = first; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    // Counted as gunicorn does, with the line's CRLF: "name: value\r\n".
    if (limits.fieldSize > 0 && name.length + value.length + 4 > limits.fieldSize) {
      return new HttpError(431, 'ERR_LIMIT_REQUEST_FIELD_SIZE', `header field ${name} exceeds --limit-request-field-size ${limits.fieldSize}`);
    }
    if (name.length === 14 && name.toLowerCase() === 'content-length') contentLength = Number(value);
  }
  if (limits.body > 0 && contentLength > limits.body) {
    return new HttpError(413, 'ERR_LIMIT_REQUEST_BODY', `Content-Length ${contentLength} exceeds --limit-request-body ${limits.body}`);
  }
  return null;
}

/** The 413 for a chunked body that grew past the limit (a Content-Length one is refused upfront). */
export function bodyTooLarge(max: number): HttpError {
  return new HttpError(413, 'ERR_LIMIT_REQUEST_BODY', `chunked body exceeds --limit-request-body ${max}`);
}

/**
 * Passes a chunked body through while counting it: a body that announces no length can only be
 * held to --limit-request-body as it arrives. Past the limit nothing more goes through.
 */
export class BodyLimit extends Transform {
  private seen = 0;
  private tripped = false;

  constructor(
    private readonly max: number,
    private readonly onExceed: () => void,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen <= this.max) {
      done(null, chunk);
      return;
    }
    if (!this.tripped) {
      this.tripped = true;
      this.onExceed();
    }
    done();
  }
}
