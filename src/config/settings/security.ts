/** Limits on what a client may send, and how slowly. */
import { one } from '../define';
import * as P from '../parsers';

export const SECURITY = {
  limitRequestLine: one<number>({
    section: 'Security',
    gunicorn: { differs: '0 means unlimited, without gunicorn\u2019s hidden 8190-byte cap.' },
    flags: ['--limit-request-line'],
    metavar: 'INT',
    file: 'limit_request_line',
    parser: P.nonNegativeInt,
    default: 4094,
    doc:
      'The longest request line accepted, in bytes (method, target and version); longer gets 414. ' +
      '0 means unlimited (unlike gunicorn, there is no hidden 8190 cap).',
  }),
  limitRequestFields: one<number>({
    section: 'Security',
    gunicorn: 'same',
    flags: ['--limit-request-fields'],
    metavar: 'INT',
    file: 'limit_request_fields',
    parser: P.nonNegativeInt,
    default: 100,
    doc: 'The most header fields a request may carry; more gets 431. 0 means unlimited.',
  }),
  limitRequestFieldSize: one<number>({
    section: 'Security',
    gunicorn: 'same',
    flags: ['--limit-request-field_size', '--limit-request-field-size'],
    metavar: 'INT',
    file: 'limit_request_field_size',
    parser: P.nonNegativeInt,
    default: 8190,
    doc: 'The longest header field line accepted, in bytes (name, colon, value and CRLF, as gunicorn counts); longer gets 431. 0 means unlimited.',
  }),
  limitRequestBody: one<number>({
    section: 'Security',
    gunicorn: 'nodicorn',
    flags: ['--limit-request-body'],
    metavar: 'BYTES',
    file: 'limit_request_body',
    parser: P.nonNegativeInt,
    default: 1024 * 1024 * 1024,
    doc:
      'The largest request body accepted, in bytes: 413 at once when Content-Length says more, or as soon as ' +
      'a chunked body crosses it. 0 means unlimited.',
  }),
  headerTimeout: one<number>({
    section: 'Security',
    gunicorn: 'nodicorn',
    flags: ['--header-timeout'],
    metavar: 'SECONDS',
    file: 'header_timeout',
    parser: P.seconds,
    default: 30,
    doc:
      'How long a client may take to send a request head (request line and headers), counted from the ' +
      'connection or from the first byte of the request; past it the client gets 408 and the connection ' +
      'closes. This is what stops slowloris. 0 means no limit.',
  }),
  bodyTimeout: one<number>({
    section: 'Security',
    gunicorn: 'nodicorn',
    flags: ['--body-timeout'],
    metavar: 'SECONDS',
    file: 'body_timeout',
    parser: P.seconds,
    default: 30,
    doc:
      'How long a request body may take to arrive, counted from the end of its head, plus one second for ' +
      'every --body-min-rate bytes received (Apache mod_reqtimeout\u2019s rule): a steady upload of any size ' +
      'passes, a trickle does not. Past it the client gets 408 and the connection closes. Bodies streamed ' +
      'to the app (--stream-request-paths) are not timed here. 0 means no limit.',
  }),
  sendTimeout: one<number>({
    section: 'Security',
    gunicorn: 'nodicorn',
    flags: ['--send-timeout'],
    metavar: 'SECONDS',
    file: 'send_timeout',
    parser: P.seconds,
    default: 60,
    doc:
      'How long a client may take none of the response bytes waiting for it before the connection is ' +
      'closed (nginx\u2019s send_timeout). The clock runs only while output is waiting and restarts each time ' +
      'the client reads some, so a slow but steady download is never cut; a client that stops reading ' +
      'gives back its connection slot and its temp file. 0 means no limit.',
  }),
  bodyMinRate: one<number>({
    section: 'Security',
    gunicorn: 'nodicorn',
    flags: ['--body-min-rate'],
    metavar: 'BYTES',
    file: 'body_min_rate',
    parser: P.nonNegativeInt,
    default: 1024,
    doc:
      'The request body bytes that buy one more second of --body-timeout; an upload slower than this ' +
      'on average is eventually cut. 0 means every body must arrive within --body-timeout whatever its size.',
  }),
} as const;
