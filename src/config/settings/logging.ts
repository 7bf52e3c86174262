/** The access and error logs, Python logging configuration, syslog and statsd. */
import { DEFAULT_ACCESS_LOG_FORMAT } from '../../log/access';
import { LOG_FORMATS, LOG_LEVELS } from '../../log/logger';
import { flag, one } from '../define';
import * as G from '../gunicorn-parsers';
import * as P from '../parsers';
import type { Parser } from '../parsers';

/** gunicorn's own logger classes: the default, its "simple" alias, and its StatsD logger (which --statsd-host picks). */
const GUNICORN_LOGGER_CLASSES = new Set(['gunicorn.glogging.Logger', 'simple', 'egg:gunicorn#simple', 'gunicorn.instrument.statsd.Statsd']);

/** --logger-class: gunicorn's own classes only; any other is Python code the Node core cannot run. */
const loggerClass: Parser<string> = {
  expected: G.dottedName.expected,
  parse(raw) {
    const name = G.dottedName.parse(raw);
    if (GUNICORN_LOGGER_CLASSES.has(name)) return name;
    throw new G.Refused(
      'the error and access logs are written by the Node core, which cannot run a Python Logger class; ' +
        'use --log-config/--log-config-dict for Python logging, --access-logformat, --log-syslog or --statsd-host',
    );
  },
};

export const LOGGING = {
  accessLogfile: one<string | null>({
    section: 'Logging',
    gunicorn: 'same',
    flags: ['--access-logfile'],
    metavar: 'FILE',
    file: 'accesslog',
    nullable: true,
    parser: P.logTarget,
    default: null,
    doc: 'Where to write the access log; - means stdout. Off unless given.',
  }),
  disableRedirectAccessToSyslog: flag({
    section: 'Logging',
    gunicorn: 'same',
    flags: ['--disable-redirect-access-to-syslog'],
    file: 'disable_redirect_access_to_syslog',
    default: false,
    doc: 'With --log-syslog, keep the access log out of syslog.',
  }),
  accessLogformat: one<string>({
    section: 'Logging',
    gunicorn: 'same',
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
    gunicorn: 'same',
    flags: ['--error-logfile', '--log-file'],
    metavar: 'FILE',
    file: 'errorlog',
    parser: P.logTarget,
    default: '-',
    doc: 'Where to write the error log (lifecycle and problems); - means stderr.',
  }),
  logLevel: one<(typeof LOG_LEVELS)[number]>({
    section: 'Logging',
    gunicorn: 'same',
    flags: ['--log-level'],
    metavar: 'LEVEL',
    file: 'loglevel',
    parser: P.choice(LOG_LEVELS),
    default: 'info',
    doc: 'The least severe error-log messages to write: debug, info, warning, error or critical.',
  }),
  logFormat: one<(typeof LOG_FORMATS)[number]>({
    section: 'Logging',
    gunicorn: 'nodicorn',
    flags: ['--log-format'],
    metavar: 'FORMAT',
    file: 'log_format',
    parser: P.choice(LOG_FORMATS),
    default: 'text',
    doc:
      'text for gunicorn-style lines, json for one JSON object per line (both logs). A JSON access line ' +
      'has OpenTelemetry\u2019s HTTP names (http.request.method, url.path, http.response.status_code, ' +
      'client.address, user_agent.original, http.server.request.duration in seconds, ...; see ' +
      'docs/logging.md); --access-logformat then only adds the headers its {Name}i and {Name}o atoms name. ' +
      'What the app prints becomes JSON lines too with --capture-output.',
  }),
  captureOutput: flag({
    section: 'Logging',
    gunicorn: { differs: 'with --error-logfile - the lines go to stderr with the worker\u2019s pid (gunicorn leaves them where they were).' },
    flags: ['--capture-output'],
    file: 'capture_output',
    default: false,
    doc:
      'Send what the workers write to stdout and stderr into the error log, line by line with the worker\u2019s pid. ' +
      'Without it they write straight to the server\u2019s own stdout and stderr, as gunicorn\u2019s workers do.',
  }),
  loggerClass: one<string>({
    section: 'Logging',
    gunicorn: { differs: 'only gunicorn\u2019s own classes (gunicorn.glogging.Logger, simple, gunicorn.instrument.statsd.Statsd); a custom class is refused' },
    flags: ['--logger-class'],
    metavar: 'STRING',
    file: 'logger_class',
    parser: loggerClass,
    default: 'gunicorn.glogging.Logger',
    doc: 'gunicorn\u2019s logger class. Only gunicorn\u2019s own are accepted: nodicorn\u2019s logs are written by its Node core, which cannot run a Python class.',
  }),
  logConfig: one<string | null>({
    section: 'Logging',
    gunicorn: { differs: 'applied in each worker; nodicorn\u2019s own lines follow gunicorn.error and gunicorn.access only to files and the standard streams (other handlers are named in a startup warning)' },
    flags: ['--log-config'],
    metavar: 'FILE',
    file: 'logconfig',
    nullable: true,
    parser: P.path,
    default: null,
    doc: 'A Python logging config file, in the format logging.config.fileConfig reads, applied in each worker before the app is imported; where it sends the gunicorn.error and gunicorn.access loggers, nodicorn\u2019s own error and access lines go.',
  }),
  logConfigDict: one<Record<string, unknown>>({
    section: 'Logging',
    gunicorn: { differs: 'also a --log-config-dict flag taking JSON; applied in each worker; nodicorn\u2019s own lines follow gunicorn.error and gunicorn.access only to files and the standard streams (other handlers are named in a startup warning)' },
    flags: ['--log-config-dict'],
    metavar: 'DICT',
    file: 'logconfig_dict',
    parser: G.dict,
    default: {},
    defaultDoc: '{}',
    doc: 'A Python logging configuration as a dict (logging.config.dictConfig\u2019s format; JSON on the command line), updating gunicorn\u2019s default dict and applied in each worker before the app is imported. Takes precedence over --log-config-json and --log-config.',
  }),
  logConfigJson: one<string | null>({
    section: 'Logging',
    gunicorn: { differs: 'applied in each worker; nodicorn\u2019s own lines follow gunicorn.error and gunicorn.access only to files and the standard streams (other handlers are named in a startup warning)' },
    flags: ['--log-config-json'],
    metavar: 'FILE',
    file: 'logconfig_json',
    nullable: true,
    parser: P.path,
    default: null,
    doc: 'A JSON file holding a logging.config.dictConfig configuration, applied as --log-config-dict is.',
  }),
  syslogAddr: one<string>({
    section: 'Logging',
    gunicorn: { differs: 'a unix datagram socket (unix://PATH#dgram, /dev/log) is refused: Node cannot send to one' },
    flags: ['--log-syslog-to'],
    metavar: 'SYSLOG_ADDR',
    file: 'syslog_addr',
    parser: P.text,
    default: 'udp://localhost:514',
    doc: 'Where --log-syslog sends: udp://HOST:PORT, tcp://HOST:PORT or unix://PATH (a stream socket). A unix datagram socket (#dgram, /dev/log) is refused: Node has no unix datagram sockets.',
  }),
  syslog: flag({
    section: 'Logging',
    gunicorn: 'same',
    flags: ['--log-syslog'],
    file: 'syslog',
    default: false,
    doc: 'Also send the error log, and the access log unless --disable-redirect-access-to-syslog, to syslog (see --log-syslog-to), as gunicorn.PREFIX.error and gunicorn.PREFIX.access.',
  }),
  syslogPrefix: one<string | null>({
    section: 'Logging',
    gunicorn: 'same',
    flags: ['--log-syslog-prefix'],
    metavar: 'SYSLOG_PREFIX',
    file: 'syslog_prefix',
    nullable: true,
    parser: P.text,
    default: null,
    doc: 'The program name in syslog lines (gunicorn.<prefix>); by default the process name.',
  }),
  syslogFacility: one<string>({
    section: 'Logging',
    gunicorn: 'same',
    flags: ['--log-syslog-facility'],
    metavar: 'SYSLOG_FACILITY',
    file: 'syslog_facility',
    parser: P.text,
    default: 'user',
    doc: 'The syslog facility name (user, daemon, local0 ...).',
  }),
  enableStdioInheritance: flag({
    section: 'Logging',
    gunicorn: 'same',
    flags: ['-R', '--enable-stdio-inheritance'],
    file: 'enable_stdio_inheritance',
    default: false,
    doc:
      'With --daemon, keep the server\u2019s and the workers\u2019 stdout and stderr where they point when that is not ' +
      'a terminal (a file or pipe the shell redirected them to), instead of /dev/null.',
  }),
  statsdHost: one<string | null>({
    section: 'Logging',
    gunicorn: { differs: 'unix:PATH is refused: Node cannot send to a unix datagram socket' },
    flags: ['--statsd-host'],
    metavar: 'STATSD_ADDR',
    file: 'statsd_host',
    nullable: true,
    parser: G.statsdAddress,
    default: null,
    doc: 'Send gunicorn\u2019s StatsD metrics (gunicorn.requests, gunicorn.request.duration, gunicorn.request.status.CODE, gunicorn.workers, gunicorn.log.LEVEL) over UDP to HOST:PORT (port 8125 when left out). With several front ends, each sends its own requests\u2019 metrics and the master alone the pool\u2019s (gunicorn.workers, gunicorn.backlog), for the whole server.',
  }),
  dogstatsdTags: one<string>({
    section: 'Logging',
    gunicorn: 'same',
    flags: ['--dogstatsd-tags'],
    metavar: 'DOGSTATSD_TAGS',
    file: 'dogstatsd_tags',
    parser: G.anyText,
    default: '',
    doc: 'Comma-separated DogStatsD tags added to every metric (env:prod,app:web).',
  }),
  statsdPrefix: one<string>({
    section: 'Logging',
    gunicorn: 'same',
    flags: ['--statsd-prefix'],
    metavar: 'STATSD_PREFIX',
    file: 'statsd_prefix',
    parser: G.anyText,
    default: '',
    doc: 'A prefix for the statsd metric names (a dot is added when missing).',
  }),
  enableBacklogMetric: flag({
    section: 'Logging',
    gunicorn: { differs: 'the backlog is the requests waiting for a free worker (Node accepts connections at once)' },
    flags: ['--enable-backlog-metric'],
    file: 'enable_backlog_metric',
    default: false,
    doc: 'Also send gunicorn.backlog each second: the number of requests waiting for a free worker (nodicorn\u2019s dispatch queue; Node accepts connections at once, so the listen queue stays empty).',
  }),
} as const;
