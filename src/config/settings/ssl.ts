/** TLS, and what HTTP versions the listeners offer. */
import { flag, one } from '../define';
import * as G from '../gunicorn-parsers';
import * as P from '../parsers';

const NODE_TLS = 'Node\u2019s TLS stack handles it';
const H2_TLS = 'nodicorn serves HTTP/2 over TLS only, negotiated by ALPN; use --certfile with --http-protocols h2,h1';

/** gunicorn's default, PROTOCOL_TLS, however a config spells it (by name, or its value 2), is 'TLS'. */
const sslVersion: P.Parser<string> = {
  expected: 'an ssl.PROTOCOL_* name or number',
  parse(raw) {
    const text = P.text.parse(raw.trim());
    return /^(2|tls|protocol_tls|sslv23|protocol_sslv23)$/i.test(text) ? 'TLS' : text;
  },
};

export const SSL = {
  keyfile: one<string | null>({
    section: 'SSL',
    gunicorn: 'same',
    flags: ['--keyfile'],
    metavar: 'FILE',
    file: 'keyfile',
    nullable: true,
    parser: P.path,
    default: null,
    defaultDoc: 'none (the key is read from --certfile)',
    doc: 'The PEM private key of --certfile. Without it, the key must be in the certificate file.',
  }),
  certfile: one<string | null>({
    section: 'SSL',
    gunicorn: 'same',
    flags: ['--certfile'],
    metavar: 'FILE',
    file: 'certfile',
    nullable: true,
    parser: P.path,
    default: null,
    doc:
      'A PEM certificate (chain): with it, every bind address serves HTTPS. Relative paths are taken from ' +
      'the directory nodicorn starts in. A missing or unreadable file stops startup with one error line.',
  }),
  sslVersion: one<string>({
    section: 'SSL',
    gunicorn: { noEffect: 'deprecated and ignored by gunicorn too; Node negotiates the highest TLS version both sides support (use ssl_context to pin one).' },
    flags: ['--ssl-version'],
    metavar: 'STRING',
    file: 'ssl_version',
    parser: sslVersion,
    default: 'TLS',
    doc: 'gunicorn\u2019s deprecated, ignored SSL version. Accepted with a warning.',
  }),
  certReqs: one<0 | 1 | 2>({
    section: 'SSL',
    gunicorn: 'same',
    flags: ['--cert-reqs'],
    metavar: 'INT',
    file: 'cert_reqs',
    parser: P.certReqs,
    default: 0,
    doc:
      'Client certificates (mutual TLS), as gunicorn numbers them: 0 does not ask for one; 1 asks, and a ' +
      'client that sends one must pass the check against --ca-certs; 2 refuses clients without a valid one.',
  }),
  caCerts: one<string | null>({
    section: 'SSL',
    gunicorn: 'same',
    flags: ['--ca-certs'],
    metavar: 'FILE',
    file: 'ca_certs',
    nullable: true,
    parser: P.path,
    default: null,
    defaultDoc: "none (Node's bundled root certificates)",
    doc: 'PEM certificates of the authorities that client certificates are checked against (see --cert-reqs).',
  }),
  suppressRaggedEofs: flag({
    section: 'SSL',
    gunicorn: { noEffect: `${NODE_TLS}: a TLS connection cut without close_notify ends the request as a closed connection` },
    flags: ['--suppress-ragged-eofs'],
    file: 'suppress_ragged_eofs',
    default: true,
    doc: 'gunicorn\u2019s handling of TLS connections cut without close_notify. Accepted with a warning: ' + NODE_TLS + '.',
  }),
  doHandshakeOnConnect: flag({
    section: 'SSL',
    gunicorn: { noEffect: `${NODE_TLS}: the handshake always runs as the connection opens` },
    flags: ['--do-handshake-on-connect'],
    file: 'do_handshake_on_connect',
    default: false,
    doc: 'gunicorn\u2019s choice of when to run the TLS handshake. Accepted with a warning: ' + NODE_TLS + ', at once.',
  }),
  ciphers: one<string | null>({
    section: 'SSL',
    gunicorn: 'same',
    flags: ['--ciphers'],
    metavar: 'CIPHERS',
    file: 'ciphers',
    nullable: true,
    parser: P.text,
    default: null,
    defaultDoc: "none (Node's default list)",
    doc: 'The TLS cipher list, in OpenSSL\u2019s format (for example ECDHE+AESGCM:!aNULL).',
  }),
  httpProtocols: one<P.HttpProtocol[]>({
    section: 'SSL',
    gunicorn: 'same',
    flags: ['--http-protocols'],
    metavar: 'LIST',
    file: 'http_protocols',
    parser: P.httpProtocols,
    default: ['h1'],
    doc:
      'The HTTP versions to serve: h1, h2 or both (h2,h1). HTTP/2 is negotiated by ALPN, so h2 needs ' +
      '--certfile (browsers do not speak cleartext HTTP/2). With both, a client that offers h2 gets it, ' +
      'whatever the order; a client without ALPN gets HTTP/1.1. With h2 alone, clients that cannot ' +
      'speak HTTP/2 are refused.',
  }),
  http2Cleartext: one<'off'>({
    section: 'HTTP/2',
    gunicorn: { differs: 'off only: cleartext HTTP/2 (prior-knowledge, upgrade, both) is refused.' },
    flags: ['--http2-cleartext'],
    metavar: 'MODE',
    file: 'http2_cleartext',
    parser: G.choiceOrRefused(
      ['off'] as const,
      {
        'prior-knowledge': H2_TLS,
        upgrade: H2_TLS,
        both: H2_TLS,
        true: H2_TLS,
      },
      { false: 'off', none: 'off' },
    ),
    default: 'off',
    doc: 'gunicorn\u2019s HTTP/2 without TLS. Only off is accepted: ' + H2_TLS + '.',
  }),
  http2MaxConcurrentStreams: one<number>({
    section: 'HTTP/2',
    gunicorn: 'same',
    flags: ['--http2-max-concurrent-streams'],
    metavar: 'INT',
    file: 'http2_max_concurrent_streams',
    parser: P.positiveInt,
    default: 100,
    doc: 'The most streams one HTTP/2 connection may have open at once (each open stream is a request waiting for or held by a worker).',
  }),
  http2InitialWindowSize: one<number>({
    section: 'HTTP/2',
    gunicorn: 'same',
    flags: ['--http2-initial-window-size'],
    metavar: 'INT',
    file: 'http2_initial_window_size',
    parser: P.intRange(0, 2 ** 31 - 1),
    default: 65535,
    doc: 'The initial HTTP/2 flow-control window of each stream, in bytes, advertised to clients.',
  }),
  http2MaxFrameSize: one<number>({
    section: 'HTTP/2',
    gunicorn: 'same',
    flags: ['--http2-max-frame-size'],
    metavar: 'INT',
    file: 'http2_max_frame_size',
    parser: P.intRange(16_384, 2 ** 24 - 1),
    default: 16384,
    doc: 'The largest HTTP/2 frame payload accepted, in bytes (16384 to 16777215, as RFC 9113 allows).',
  }),
  http2MaxHeaderListSize: one<number>({
    section: 'HTTP/2',
    gunicorn: { differs: 'the smaller of this and what --limit-request-fields and --limit-request-field_size allow is advertised and enforced' },
    flags: ['--http2-max-header-list-size'],
    metavar: 'INT',
    file: 'http2_max_header_list_size',
    parser: P.positiveInt,
    default: 65536,
    doc: 'The largest HTTP/2 header list accepted, in bytes (uncompressed, 32 bytes counted per field as RFC 9113 does). The request limits apply too: the smaller one is advertised.',
  }),
} as const;
