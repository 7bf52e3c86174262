/** nodicorn's own request ids (src/http/request/request-id.ts). */
import { one } from '../define';
import { Invalid, type Parser } from '../parsers';

/**
 * An HTTP field name (RFC 9110 §5.1 token) without "_": a name with an underscore never reaches a
 * WSGI environ (it could alias another), so the app could not read the id.
 */
const headerName: Parser<string> = {
  expected: 'a header name (letters, digits and !#$%&\'*+-.^`|~, no "_")',
  parse(raw) {
    const name = raw.trim();
    if (!/^[A-Za-z0-9!#$%&'*+.^`|~-]+$/.test(name)) throw new Invalid();
    return name;
  },
};

export const REQUEST_ID = {
  requestIdHeader: one<string | null>({
    section: 'Logging',
    gunicorn: 'nodicorn',
    flags: ['--request-id-header'],
    metavar: 'NAME',
    file: 'request_id_header',
    nullable: true,
    parser: headerName,
    default: null,
    defaultDoc: 'off',
    doc:
      'Give each request an id under this header, usually X-Request-ID: the one the client or a front ' +
      'proxy sent when it is sane (1 to 200 visible ASCII characters, no quote, backslash or comma), else ' +
      'a new one (a per-process random prefix and a counter). The app reads it in its environ ' +
      '(HTTP_X_REQUEST_ID), the response carries it back (unless the app set that header itself), and ' +
      'the access log has it (http.request.id in JSON lines, %({X-Request-ID}i)s in text). Off by ' +
      'default, as in gunicorn, uWSGI and granian: a drop-in server adds no environ key and no response ' +
      'header the app did not ask for.',
  }),
} as const;
