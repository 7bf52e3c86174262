/**
 * THE settings registry. Each setting is declared once, here; the command-line parser, the env
 * vars, the config-file keys, --help, docs/settings.md and the `Config` type all come from it.
 * A new setting is one more entry in SETTINGS (see define.ts for `one`, `many`, `flag`).
 */
import { DEFAULT_ACCESS_LOG_FORMAT } from '../log/access';
import { LOG_FORMATS, LOG_LEVELS } from '../log/logger';
import { action, flag, one, many, type Action, type DefaultContext, type Setting } from './define';
import * as P from './parsers';

export { SECTIONS, type Section, type Setting, type Action, type DefaultContext } from './define';

/** gunicorn's default: PORT (as set by Heroku-style platforms) on all interfaces, else local 8000. */
function bindFromPort(ctx: DefaultContext): string[] {
  const port = ctx.read('PORT');
  if (port === undefined) return ['127.0.0.1:8000'];
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) throw new P.Invalid('a port number (0-65535)');
  return [`0.0.0.0:${port}`];
}

/** gunicorn reads FORWARDED_ALLOW_IPS (as set by Heroku's Python buildpack) for its default. */
function forwardedFromEnv(ctx: DefaultContext): string[] {
  const raw = ctx.read('FORWARDED_ALLOW_IPS');
  return raw === undefined ? [...LOOPBACK] : P.addressList.parse(raw);
}

const LOOPBACK = ['127.0.0.1', '::1'] as const;

function workersFromEnv(ctx: DefaultContext): number {
  const n = ctx.read('WEB_CONCURRENCY');
  return n === undefined ? 1 : P.positiveInt.parse(n);
}

export const SETTINGS = {
  app: one<string | null>({
    section: 'Application',
    flags: [],
    positional: true,
    metavar: 'APP_MODULE',
    file: 'wsgi_app',
    nullable: true,
    parser: P.appSpec,
    default: null,
    defaultDoc: 'none (required, here or as wsgi_app in the config file)',
    doc:
      'The WSGI application to serve, as module:callable (module alone means module:application; ' +
      'module:factory(args) calls a factory). Given as the one positional argument or as wsgi_app in the config file.',
  }),
  config: one<string | null>({
    section: 'Config File',
    flags: ['-c', '--config'],
    metavar: 'CONFIG',
    file: null,
    nullable: true,
    parser: P.path,
    default: null,
    defaultDoc: "'./nodicorn.conf.py' if it exists, else none",
    doc:
      'A config file: a Python file whose module-level names are settings (bind = "0.0.0.0:8000", ' +
      'workers = 4, accesslog = "-"), or a .json file with the same keys. The file is run by the ' +
      'worker interpreter (--python). Unknown names are reported as warnings.',
  }),
  bind: many<string>({
    section: 'Server Socket',
    flags: ['-b', '--bind'],
    metavar: 'ADDRESS',
    file: 'bind',
    parser: P.bind,
    default: bindFromPort,
    defaultDoc: "'0.0.0.0:$PORT' if PORT is set, else '127.0.0.1:8000'",
    doc:
      'The socket to listen on: HOST:PORT, [IPv6]:PORT, :PORT (all interfaces), HOST (port 8000), ' +
      'unix:PATH or fd://N. Repeat the flag to listen on several; port 0 picks a free port. ' +
      'In NODICORN_BIND several addresses are separated by spaces.',
  }),
  backlog: one<number>({
    section: 'Server Socket',
    flags: ['--backlog'],
    metavar: 'INT',
    file: 'backlog',
    parser: P.positiveInt,
    default: 2048,
    doc:
      'The most connections waiting to be accepted (the listen backlog), and the bound of the queue of ' +
      'requests waiting for a free worker: past it, requests are answered 503.',
  }),
  workers: one<number>({
    section: 'Worker Processes',
    flags: ['-w', '--workers'],
    metavar: 'INT',
    file: 'workers',
    parser: P.positiveInt,
    default: workersFromEnv,
    defaultDoc: '$WEB_CONCURRENCY if set, else 1',
    doc: 'The number of Python worker processes. Two to four per core is a common start.',
  }),
  threads: one<number>({
    section: 'Worker Processes',
    flags: ['--threads'],
    metavar: 'INT',
    file: 'threads',
    parser: P.positiveInt,
    default: 1,
    doc: 'The number of threads in each worker, each handling one request at a time.',
  }),
  limitRequestLine: one<number>({
    section: 'Security',
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
    flags: ['--limit-request-fields'],
    metavar: 'INT',
    file: 'limit_request_fields',
    parser: P.nonNegativeInt,
    default: 100,
    doc: 'The most header fields a request may carry; more gets 431. 0 means unlimited.',
  }),
  limitRequestFieldSize: one<number>({
    section: 'Security',
    flags: ['--limit-request-field_size', '--limit-request-field-size'],
    metavar: 'INT',
    file: 'limit_request_field_size',
    parser: P.nonNegativeInt,
    default: 8190,
    doc: 'The longest header field line accepted, in bytes (name, colon, value and CRLF, as gunicorn counts); longer gets 431. 0 means unlimited.',
  }),
  limitRequestBody: one<number>({
    section: 'Security',
    flags: ['--limit-request-body'],
    metavar: 'BYTES',
    file: 'limit_request_body',
    parser: P.nonNegativeInt,
    default: 1024 * 1024 * 1024,
    doc:
      'The largest request body accepted, in bytes: 413 at once when Content-Length says more, or as soon as ' +
      'a chunked body crosses it. 0 means unlimited.',
  }),
  certfile: one<string | null>({
    section: 'SSL',
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
  keyfile: one<string | null>({
    section: 'SSL',
    flags: ['--keyfile'],
    metavar: 'FILE',
    file: 'keyfile',
    nullable: true,
    parser: P.path,
    default: null,
    defaultDoc: 'none (the key is read from --certfile)',
    doc: 'The PEM private key of --certfile. Without it, the key must be in the certificate file.',
  }),
  caCerts: one<string | null>({
    section: 'SSL',
    flags: ['--ca-certs'],
    metavar: 'FILE',
    file: 'ca_certs',
    nullable: true,
    parser: P.path,
    default: null,
    defaultDoc: "none (Node's bundled root certificates)",
    doc: 'PEM certificates of the authorities that client certificates are checked against (see --cert-reqs).',
  }),
  certReqs: one<0 | 1 | 2>({
    section: 'SSL',
    flags: ['--cert-reqs'],
    metavar: 'INT',
    file: 'cert_reqs',
    parser: P.certReqs,
    default: 0,
    doc:
      'Client certificates (mutual TLS), as gunicorn numbers them: 0 does not ask for one; 1 asks, and a ' +
      'client that sends one must pass the check against --ca-certs; 2 refuses clients without a valid one.',
  }),
  ciphers: one<string | null>({
    section: 'SSL',
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
  forwardedAllowIps: one<string[]>({
    section: 'Server Mechanics',
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
  proxyProtocol: flag({
    section: 'Server Mechanics',
    flags: ['--proxy-protocol'],
    file: 'proxy_protocol',
    default: false,
    doc:
      'Read a PROXY protocol header (HAProxy\u2019s, version 1 text or version 2 binary) at the start of each ' +
      'connection, before any HTTP or TLS byte, and take the client address it carries as REMOTE_ADDR and ' +
      'REMOTE_PORT (and for the access log); PROXY_PROTOCOL, PROXY_ADDR and PROXY_PORT are set as in gunicorn. ' +
      'The header is optional, as in gunicorn: a connection without one is served as it is. A header from a ' +
      'peer not in --proxy-allow-from, a malformed one, or one not complete within 5 seconds closes the ' +
      'connection.',
  }),
  proxyAllowIps: one<string[]>({
    section: 'Server Mechanics',
    flags: ['--proxy-allow-from'],
    metavar: 'STRING',
    file: 'proxy_allow_ips',
    parser: P.addressList,
    default: [...LOOPBACK],
    doc:
      'Front ends allowed to send a PROXY protocol header: comma-separated addresses and CIDR networks, or * ' +
      'for any. UNIX-socket peers are always allowed.',
  }),
  headerTimeout: one<number>({
    section: 'Security',
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
    flags: ['--body-min-rate'],
    metavar: 'BYTES',
    file: 'body_min_rate',
    parser: P.nonNegativeInt,
    default: 1024,
    doc:
      'The request body bytes that buy one more second of --body-timeout; an upload slower than this ' +
      'on average is eventually cut. 0 means every body must arrive within --body-timeout whatever its size.',
  }),
  prefetch: one<number>({
    section: 'Worker Processes',
    flags: ['--prefetch'],
    metavar: 'INT',
    file: 'prefetch',
    parser: P.nonNegativeInt,
    default: 4,
    doc:
      'How many requests per thread may always wait inside a busy worker, beyond the one each thread runs. ' +
      'It only applies when every worker is busy: then requests travel to the workers in batches, one pipe ' +
      'write for many, which roughly triples throughput under load. A worker that answers quickly may hold ' +
      'more (see --prefetch-time). 0 keeps every waiting request in Node\'s queue, where the next free worker ' +
      'takes it, and turns --prefetch-time off too. If the worker dies or is killed for --timeout, the ' +
      'requests it held behind the failed one are dispatched again (with --threads 1 and no request body; ' +
      'otherwise they may have started, and get 502).',
  }),
  prefetchTime: one<number>({
    section: 'Worker Processes',
    flags: ['--prefetch-time'],
    metavar: 'MS',
    file: 'prefetch_time',
    parser: P.milliseconds,
    default: 5,
    doc:
      'A busy worker that answers quickly may hold more requests than --prefetch: as many as its recent ' +
      'answers say it gets through in this many milliseconds, up to 32 per thread. Deeper batches cost less ' +
      'per request: on one core, the hello app and a Flask JSON view used a quarter to a third less CPU per request ' +
      'than at a fixed 4. The price is the wait of a request ' +
      'prefetched behind a slow one: it waits for it even when another worker is free. The depth drops back ' +
      'to --prefetch as soon as one slow answer shows, and with the defaults a worker whose answers take more ' +
      'than a millisecond each stays at --prefetch. 0 keeps every worker at --prefetch.',
  }),
  timeout: one<number>({
    section: 'Worker Processes',
    flags: ['-t', '--timeout'],
    metavar: 'SECONDS',
    file: 'timeout',
    parser: P.seconds,
    default: 30,
    doc:
      'A request running longer than this gets its worker killed and restarted, and its client a 504. ' +
      '0 means no timeout.',
  }),
  gracefulTimeout: one<number>({
    section: 'Worker Processes',
    flags: ['--graceful-timeout'],
    metavar: 'SECONDS',
    file: 'graceful_timeout',
    parser: P.seconds,
    default: 30,
    doc: 'On shutdown or reload, how long workers may finish their requests before they are killed.',
  }),
  httpEngine: one<'node' | 'lean'>({
    section: 'Server Mechanics',
    flags: ['--http-engine'],
    metavar: 'ENGINE',
    file: 'http_engine',
    parser: P.choice(['node', 'lean'] as const),
    default: 'lean',
    doc:
      'What serves HTTP/1.1, plain or over TLS. lean feeds Node\u2019s own llhttp parser (the one node:http uses) ' +
      'straight from the socket, with light request and response objects: the same bytes on the wire as node:http, ' +
      'for about a tenth less CPU per small request. node serves through node:http (node:https) itself. lean needs a ' +
      'Node version whose parser binding it was checked on (20); on others node:http serves. A TLS listener that offers ' +
      'HTTP/2 (--http-protocols with h2) is node:http2\u2019s, HTTP/1.1 on it included.',
  }),
  keepAlive: one<number>({
    section: 'Worker Processes',
    flags: ['--keep-alive'],
    metavar: 'SECONDS',
    file: 'keepalive',
    parser: P.seconds,
    default: 2,
    doc:
      'How long an idle keep-alive connection waits for its next request (node:http allows up to a second ' +
      'more). 0 closes the connection after each response.',
  }),
  workerConnections: one<number>({
    section: 'Worker Processes',
    flags: ['--worker-connections'],
    metavar: 'INT',
    file: 'worker_connections',
    parser: P.nonNegativeInt,
    default: 1000,
    doc:
      'The most client connections open at once, over all listeners, idle keep-alive ones included. ' +
      'Past it a new connection is answered 503 at once and closed; the open ones are still served. ' +
      'gunicorn counts this per worker; here Node holds every connection, so it is per server. 0 means no cap.',
  }),
  maxRequests: one<number>({
    section: 'Worker Processes',
    flags: ['--max-requests'],
    metavar: 'INT',
    file: 'max_requests',
    parser: P.nonNegativeInt,
    default: 0,
    doc: 'Restart a worker after it has served this many requests, to bound slow leaks. 0 means never.',
  }),
  maxRequestsJitter: one<number>({
    section: 'Worker Processes',
    flags: ['--max-requests-jitter'],
    metavar: 'INT',
    file: 'max_requests_jitter',
    parser: P.nonNegativeInt,
    default: 0,
    doc: 'Add a random 0..N to --max-requests for each worker, so workers do not all restart at once.',
  }),
  python: one<string | null>({
    section: 'Worker Processes',
    flags: ['--python'],
    metavar: 'PATH',
    file: 'python',
    nullable: true,
    parser: P.path,
    default: null,
    defaultDoc: 'the pip launcher\'s Python, else $VIRTUAL_ENV, else .venv or venv in the start directory, then in --chdir, else python3 or python',
    doc:
      'The Python interpreter that runs the workers (and evaluates a Python config file). By default, the first ' +
      'that exists: the Python nodicorn was pip-installed into (when started by that install\'s `nodicorn` ' +
      'or `python -m nodicorn`), the active virtualenv ($VIRTUAL_ENV), `.venv` then `venv` in the directory ' +
      'nodicorn starts in, the same two in --chdir, then python3 or python on PATH. The choice and why are ' +
      'logged at startup. A relative path is read from the directory nodicorn starts in, not from --chdir.',
  }),
  chdir: one<string>({
    section: 'Server Mechanics',
    flags: ['--chdir'],
    metavar: 'DIR',
    file: 'chdir',
    parser: P.path,
    default: (ctx) => ctx.cwd,
    defaultDoc: 'the current directory',
    doc: 'The directory the workers run in, and where the app is imported from.',
  }),
  pythonpath: one<string[]>({
    section: 'Server Mechanics',
    flags: ['--pythonpath'],
    metavar: 'DIRS',
    file: 'pythonpath',
    parser: P.commaList,
    default: [],
    doc: 'Comma-separated directories put first on the workers\u2019 sys.path.',
  }),
  bodyBufferSize: one<number>({
    section: 'Server Mechanics',
    flags: ['--body-buffer-size'],
    metavar: 'BYTES',
    file: 'body_buffer_size',
    parser: P.positiveInt,
    default: 256 * 1024,
    doc:
      'Request bodies are received whole before the app is called, and responses are taken from the app ' +
      'as fast as it writes them, so a slow client never holds a worker thread. This is how much of one ' +
      'request body, or of one response the client has not read yet, is held in memory; the rest goes to ' +
      'a temp file in --spool-dir.',
  }),
  maxTempFileSize: one<number>({
    section: 'Server Mechanics',
    flags: ['--max-temp-file-size'],
    metavar: 'BYTES',
    file: 'max_temp_file_size',
    parser: P.nonNegativeInt,
    default: 1024 * 1024 * 1024,
    doc:
      'The most bytes of one response a temp file holds for a client that reads slowly (nginx\u2019s ' +
      'proxy_max_temp_file_size); past it the app waits for the client. 0 keeps responses in memory ' +
      'only (--body-buffer-size, then the app waits). Request bodies are bounded by --limit-request-body.',
  }),
  spoolDir: one<string | null>({
    section: 'Server Mechanics',
    flags: ['--spool-dir'],
    metavar: 'DIR',
    file: 'spool_dir',
    nullable: true,
    parser: P.path,
    default: null,
    defaultDoc: 'the system temp directory ($TMPDIR, else /tmp)',
    doc:
      'Where request bodies and responses past --body-buffer-size are spooled. Each temp file is unlinked ' +
      'as soon as it is open and lives only as an open descriptor, so none is ever left behind, even by a crash.',
  }),
  streamRequestPaths: one<string[]>({
    section: 'Server Mechanics',
    flags: ['--stream-request-paths'],
    metavar: 'PREFIXES',
    file: 'stream_request_paths',
    parser: P.pathPrefixes,
    default: [],
    doc:
      'Comma-separated PATH_INFO prefixes (plain string prefixes: /upload also matches /uploads) whose ' +
      'request bodies stream to the app as they arrive instead of being received whole first, for apps ' +
      'that process uploads as they come. Such a request holds a worker thread for as long as its client ' +
      'takes to send, and the app decides when 100 Continue is sent (when it first reads the body).',
  }),
  rawEnv: many<string>({
    section: 'Server Mechanics',
    flags: ['-e', '--env'],
    metavar: 'KEY=VALUE',
    file: 'raw_env',
    parser: P.keyValue,
    default: [],
    doc:
      'Set an environment variable for the workers. Repeat for several; in NODICORN_RAW_ENV they are ' +
      'separated by spaces (quote a value with spaces).',
  }),
  accessLogfile: one<string | null>({
    section: 'Logging',
    flags: ['--access-logfile'],
    metavar: 'FILE',
    file: 'accesslog',
    nullable: true,
    parser: P.logTarget,
    default: null,
    doc: 'Where to write the access log; - means stdout. Off unless given.',
  }),
  accessLogformat: one<string>({
    section: 'Logging',
    flags: ['--access-logformat'],
    metavar: 'STRING',
    file: 'access_log_format',
    parser: P.text,
    default: DEFAULT_ACCESS_LOG_FORMAT,
    doc:
      'The access log line, with gunicorn\u2019s atoms: h remote address, l -, u user, t time, ' +
      'r request line, m method, U path, q query, H protocol, s status, B bytes, b bytes or -, ' +
      'f referer, a user agent, T seconds, D microseconds, M milliseconds, L decimal seconds, p worker pid, ' +
      '{header}i request header, {header}o response header, {name}e environment variable. ' +
      'Written as %(atom)s; unknown atoms print -.',
  }),
  errorLogfile: one<string>({
    section: 'Logging',
    flags: ['--error-logfile', '--log-file'],
    metavar: 'FILE',
    file: 'errorlog',
    parser: P.logTarget,
    default: '-',
    doc: 'Where to write the error log (lifecycle and problems); - means stderr.',
  }),
  logLevel: one<(typeof LOG_LEVELS)[number]>({
    section: 'Logging',
    flags: ['--log-level'],
    metavar: 'LEVEL',
    file: 'loglevel',
    parser: P.choice(LOG_LEVELS),
    default: 'info',
    doc: 'The least severe error-log messages to write: debug, info, warning, error or critical.',
  }),
  logFormat: one<(typeof LOG_FORMATS)[number]>({
    section: 'Logging',
    flags: ['--log-format'],
    metavar: 'FORMAT',
    file: 'log_format',
    parser: P.choice(LOG_FORMATS),
    default: 'text',
    doc: 'text for gunicorn-style lines, json for one JSON object per line (both logs).',
  }),
  name: one<string | null>({
    section: 'Process Naming',
    flags: ['-n', '--name'],
    metavar: 'STRING',
    file: 'proc_name',
    nullable: true,
    parser: P.text,
    default: null,
    doc: 'A name for the server\u2019s processes, shown in process listings and worker thread names.',
  }),
  help: action({
    section: 'General',
    action: 'help',
    flags: ['-h', '--help'],
    metavar: '',
    doc: 'Show this help and exit.',
  }),
  version: action({
    section: 'General',
    action: 'version',
    flags: ['-v', '--version'],
    metavar: '',
    doc: 'Show the version and exit.',
  }),
} as const;

type Registry = typeof SETTINGS;
/** Keys of the settings that hold a value (not --help / --version). */
export type SettingKey = { [K in keyof Registry]: Registry[K] extends { kind: 'value' } ? K : never }[keyof Registry];

/** The server's configuration, derived from the registry. */
export type Config = { [K in SettingKey]: Registry[K] extends Setting<infer T> ? T : never };

/** NODICORN_<UPPER_SNAKE of the key>: accessLogfile → NODICORN_ACCESS_LOGFILE. */
export function envName(key: string): string {
  return `NODICORN_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

export interface SettingEntry {
  readonly key: SettingKey;
  readonly setting: Setting<unknown>;
  /** The environment variable that sets it, or null. */
  readonly env: string | null;
}
export interface ActionEntry {
  readonly key: string;
  readonly setting: Action;
  readonly env: null;
}

/** Every entry with its key and env var, in declaration order. */
export const ENTRIES: ReadonlyArray<SettingEntry | ActionEntry> = Object.entries(SETTINGS).map(([key, s]) => {
  if (s.kind === 'action') return { key, setting: s, env: null };
  const setting = s as Setting<unknown>;
  const env = setting.envOverride === undefined ? envName(key) : setting.envOverride;
  return { key: key as SettingKey, setting, env };
});

export const VALUE_ENTRIES: readonly SettingEntry[] = ENTRIES.filter((e): e is SettingEntry => e.setting.kind === 'value');

/** The primary long flag (the first `--` spelling) for messages: --error-logfile, not --log-file. */
export function primaryFlag(setting: Setting<unknown> | Action): string {
  return setting.flags.find((f) => f.startsWith('--')) ?? setting.flags[0] ?? setting.metavar;
}

