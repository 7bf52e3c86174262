/** What a front end (nginx, HAProxy, a load balancer) may tell the server, and which front ends. */
import { one, optional, type DefaultContext } from '../define';
import * as G from '../gunicorn-parsers';
import * as P from '../parsers';

const LOOPBACK = ['127.0.0.1', '::1'] as const;

/** gunicorn reads FORWARDED_ALLOW_IPS (as set by Heroku's Python buildpack) for its default. */
function forwardedFromEnv(ctx: DefaultContext): string[] {
  const raw = ctx.read('FORWARDED_ALLOW_IPS');
  return raw === undefined ? [...LOOPBACK] : P.addressList.parse(raw);
}

/** gunicorn's off / v1 / v2 / auto (and true / false); every mode but off reads either version. */
const proxyProtocolMode = G.choiceOrRefused(['off', 'v1', 'v2', 'auto'] as const, {}, {
  false: 'off',
  '0': 'off',
  none: 'off',
  true: 'auto',
  '1': 'auto',
});
const proxyProtocolParser: P.Parser<boolean> = {
  expected: proxyProtocolMode.expected,
  parse: (raw) => proxyProtocolMode.parse(raw) !== 'off',
  fromJson: (value) => proxyProtocolMode.fromJson?.(value) !== 'off',
};

const UWSGI = 'nodicorn speaks HTTP only; have the front end proxy HTTP to it (nginx: proxy_pass instead of uwsgi_pass)';

export const PROXY = {
  forwardedAllowIps: one<string[]>({
    section: 'Server Mechanics',
    gunicorn: { differs: 'X-Forwarded-For from a trusted front end sets REMOTE_ADDR (gunicorn leaves it alone); CIDR networks are accepted.' },
    flags: ['--forwarded-allow-ips'],
    metavar: 'STRING',
    file: 'forwarded_allow_ips',
    parser: P.addressList,
    default: forwardedFromEnv,
    defaultDoc: "$FORWARDED_ALLOW_IPS if set, else '127.0.0.1,::1'",
    doc:
      'Front ends trusted to say who the client is: comma-separated addresses and CIDR networks (10.0.0.0/8, ' +
      'fd00::/8), or * for any (only when nothing else can reach the server). From these peers, and from ' +
      'UNIX-socket peers, X-Forwarded-For (or, without it, the Forwarded header) sets REMOTE_ADDR and ' +
      'REMOTE_PORT, and the --secure-scheme-headers (or Forwarded proto=) set wsgi.url_scheme; from any other ' +
      'peer they change nothing. The X-Forwarded-For list is read from the right, skipping trusted proxies: ' +
      'the first untrusted address is the client. Scheme headers that disagree get 400. The headers stay in ' +
      'the environ. The access log\u2019s %(h)s shows the resulting REMOTE_ADDR. Unlike gunicorn, which leaves ' +
      'REMOTE_ADDR alone, X-Forwarded-For does set it here.',
  }),
  forwarderHeaders: one<string[]>({
    section: 'Server Mechanics',
    gunicorn: 'same',
    flags: ['--forwarder-headers'],
    metavar: 'NAMES',
    file: 'forwarder_headers',
    parser: P.forwarderHeaders,
    default: ['SCRIPT_NAME', 'PATH_INFO'],
    defaultDoc: "'SCRIPT_NAME,PATH_INFO'",
    doc:
      'Environ variables a trusted front end (--forwarded-allow-ips) may set with a header of the same name, ' +
      'as gunicorn\u2019s forwarder_headers: nginx\u2019s `proxy_set_header SCRIPT_NAME /app;` mounts the app ' +
      'under /app. SCRIPT_NAME is taken off the front of PATH_INFO when the path starts with it (a proxy that ' +
      'already stripped the prefix leaves PATH_INFO as it is); PATH_INFO replaces the path; any other name ' +
      '(REMOTE_USER, say) is set as given. From any other peer these headers are dropped, like every header ' +
      'with an underscore in its name. Make sure the front end removes them from what clients send.',
  }),
  secureSchemeHeaders: one<Record<string, string>>({
    section: 'Server Mechanics',
    gunicorn: { differs: 'Also a command-line flag and env var (gunicorn: config file only).' },
    flags: ['--secure-scheme-headers'],
    metavar: 'HEADER:VALUE,...',
    file: 'secure_scheme_headers',
    parser: P.schemeHeaders,
    default: { 'X-FORWARDED-PROTOCOL': 'ssl', 'X-FORWARDED-PROTO': 'https', 'X-FORWARDED-SSL': 'on' },
    defaultDoc: "'X-FORWARDED-PROTOCOL: ssl, X-FORWARDED-PROTO: https, X-FORWARDED-SSL: on'",
    doc:
      'Headers a trusted front end (--forwarded-allow-ips) sets to say the client used HTTPS, with the value ' +
      'that means it; any other value means HTTP. In a config file a dict, as in gunicorn; an empty string ' +
      'turns them all off.',
  }),
  proxyProtocol: optional<boolean>({
    section: 'Server Mechanics',
    gunicorn: { differs: 'v1 and v2 read either version, like auto.' },
    flags: ['--proxy-protocol'],
    metavar: '[MODE]',
    file: 'proxy_protocol',
    parser: proxyProtocolParser,
    bare: 'auto',
    default: false,
    defaultDoc: 'off',
    doc:
      'Read a PROXY protocol header (HAProxy\u2019s, version 1 text or version 2 binary) at the start of each ' +
      'connection, before any HTTP or TLS byte, and take the client address it carries as REMOTE_ADDR and ' +
      'REMOTE_PORT (and for the access log); PROXY_PROTOCOL, PROXY_ADDR and PROXY_PORT are set as in gunicorn. ' +
      'MODE is gunicorn\u2019s off, v1, v2 or auto (the flag alone means auto); every mode but off reads either version. ' +
      'The header is optional, as in gunicorn: a connection without one is served as it is. A header from a ' +
      'peer not in --proxy-allow-from, a malformed one, or one not complete within 5 seconds closes the ' +
      'connection.',
  }),
  proxyAllowIps: one<string[]>({
    section: 'Server Mechanics',
    gunicorn: 'same',
    flags: ['--proxy-allow-from'],
    metavar: 'STRING',
    file: 'proxy_allow_ips',
    parser: P.addressList,
    default: [...LOOPBACK],
    doc:
      'Front ends allowed to send a PROXY protocol header: comma-separated addresses and CIDR networks, or * ' +
      'for any. UNIX-socket peers are always allowed.',
  }),
  protocol: one<'http'>({
    section: 'Server Mechanics',
    gunicorn: { differs: 'http only: uwsgi is refused.' },
    flags: ['--protocol'],
    metavar: 'STRING',
    file: 'protocol',
    parser: G.choiceOrRefused(['http'] as const, { uwsgi: UWSGI }),
    default: 'http',
    doc: 'The protocol spoken to clients or the front end: http. gunicorn\u2019s uwsgi is refused: ' + UWSGI + '.',
  }),
  uwsgiAllowIps: one<string[]>({
    section: 'Server Mechanics',
    gunicorn: { noEffect: 'it only applies to --protocol uwsgi, which nodicorn refuses.' },
    flags: ['--uwsgi-allow-from'],
    metavar: 'STRING',
    file: 'uwsgi_allow_ips',
    parser: P.addressList,
    default: [...LOOPBACK],
    defaultDoc: "'127.0.0.1,::1'",
    doc: 'gunicorn\u2019s front ends allowed to speak uwsgi. Accepted with a warning: --protocol uwsgi is refused.',
  }),
} as const;
