/**
 * The one error response nodicorn writes itself (a refused request, an app that failed before
 * its head): a short text body, and the connection closes after framing errors. Also the reason
 * phrases for the raw answers the connection code writes.
 */
import type { Wire } from './wire';

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  413: 'Content Too Large',
  414: 'URI Too Long',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
};

export const reasonFor = (status: number): string => REASONS[status] ?? 'Error';

/** `extra`: one more header (the request id). `close`: the connection closes after it (HTTP/1.1; an HTTP/2 stream ends alone, the others of its connection were not part of the fault). */
export function respondWithError(wire: Wire, status: number, close = false, extra?: [string, string]): void {
  const reason = reasonFor(status);
  const body = `${status} ${reason}\n`;
  const headers = ['Content-Type', 'text/plain; charset=utf-8', 'Content-Length', String(body.length)];
  if (extra) headers.push(extra[0], extra[1]);
  wire.writeHead(status, reason, headers, close);
  wire.end(body);
}
