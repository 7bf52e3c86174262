/**
 * The access log. gunicorn's format string (`%(h)s %(l)s ... "%(a)s"`) is compiled once into a
 * list of literal text and atom functions; a request only runs the atoms the format names.
 *
 * Atoms: h remote address, l "-", u Basic-auth user, t [25/Nov/2026:04:34:10 +0000], r request line,
 * m method, U path, q query, H protocol, s status, B bytes, b bytes or "-", f referer, a user agent,
 * T seconds, D microseconds, M milliseconds, L decimal seconds, p <worker pid>, {Header}i request
 * header, {Header}o response header, {NAME}e environment variable. Unknown atoms print "-".
 */
import { LineSink } from './sink';
import { compileJsonAccess } from './access-json';
import { formatClfTime } from './time';
import type { AccessEntry } from './access-entry';

export type { AccessEntry } from './access-entry';

export const DEFAULT_ACCESS_LOG_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"';

type Atom = (e: AccessEntry) => string;

interface AtomDef {
  text: Atom;
}

const dash = (value: string | undefined): string => (value === undefined || value === '' ? '-' : value);

/** First matching header of a rawHeaders list (several are joined with ", " as RFC 9110 §5.3 allows). */
function requestHeader(raw: string[], lowerName: string): string | undefined {
  let found: string | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) {
      const value = raw[i + 1] as string;
      found = found === undefined ? value : `${found}, ${value}`;
    }
  }
  return found;
}

function responseHeader(headers: Array<[string, string]>, lowerName: string): string | undefined {
  let found: string | undefined;
  for (const [name, value] of headers) {
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) {
      found = found === undefined ? value : `${found}, ${value}`;
    }
  }
  return found;
}

/** The user name of "Authorization: Basic base64(user:password)". */
function basicUser(e: AccessEntry): string {
  const auth = requestHeader(e.requestHeaders, 'authorization');
  if (!auth || auth.length < 7 || auth.slice(0, 6).toLowerCase() !== 'basic ') return '-';
  const decoded = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return dash(colon < 0 ? decoded : decoded.slice(0, colon));
}

const seconds = (e: AccessEntry): number => Math.floor(e.durationMicros / 1_000_000);
const decimalSeconds = (e: AccessEntry): string =>
  `${seconds(e)}.${String(Math.floor(e.durationMicros % 1_000_000)).padStart(6, '0')}`;

const ATOMS: Record<string, AtomDef> = {
  h: { text: (e) => dash(e.remoteAddr) },
  l: { text: () => '-' },
  u: { text: basicUser },
  t: { text: (e) => formatClfTime(e.start) },
  r: { text: (e) => `${e.method} ${e.target} ${e.protocol}` },
  m: { text: (e) => e.method },
  U: { text: (e) => e.path },
  q: { text: (e) => e.query },
  H: { text: (e) => e.protocol },
  s: { text: (e) => String(e.status) },
  B: { text: (e) => String(e.bytes) },
  b: { text: (e) => (e.bytes === 0 ? '-' : String(e.bytes)) },
  f: { text: (e) => dash(requestHeader(e.requestHeaders, 'referer')) },
  a: { text: (e) => dash(requestHeader(e.requestHeaders, 'user-agent')) },
  T: { text: (e) => String(seconds(e)) },
  D: { text: (e) => String(e.durationMicros) },
  M: { text: (e) => String(Math.floor(e.durationMicros / 1000)) },
  L: { text: decimalSeconds },
  p: { text: (e) => `<${e.workerPid}>` },
};

const UNKNOWN: AtomDef = { text: () => '-' };

/** `{Name}i`, `{Name}o`, `{NAME}e` or a one-letter atom; anything else prints "-". */
function lookupAtom(name: string, requestIdHeader?: string): AtomDef {
  const simple = ATOMS[name];
  if (simple) return simple;
  const braced = /^\{(.+)\}([ioe])$/.exec(name);
  if (!braced) return UNKNOWN;
  const inner = braced[1] as string;
  const lower = inner.toLowerCase();
  switch (braced[2]) {
    case 'i':
      // The request id header shows the id the app saw (a hostile one was replaced).
      if (lower === requestIdHeader) return { text: (e) => dash(e.requestId ?? requestHeader(e.requestHeaders, lower)) };
      return { text: (e) => dash(requestHeader(e.requestHeaders, lower)) };
    case 'o':
      return { text: (e) => dash(responseHeader(e.responseHeaders, lower)) };
    default: {
      // Read at log time (gunicorn reads os.environ per line); names match exactly, then upper-case.
      const upper = inner.toUpperCase();
      return { text: () => dash(process.env[inner] ?? process.env[upper]) };
    }
  }
}

/** `%(name)-10s`: Python's %-formatting with a mapping key; flags, width and precision honoured. */
const SPEC = /\(([^)]*)\)([-#0 +]*)(\d*)(?:\.(\d+))?([sdr])/y;

function withPadding(atom: Atom, flags: string, width: number, precision: number | null): Atom {
  if (width === 0 && precision === null) return atom;
  const left = flags.includes('-');
  return (e) => {
    let value = atom(e);
    if (precision !== null) value = value.slice(0, precision);
    return left ? value.padEnd(width) : value.padStart(width);
  };
}

interface Part {
  literal?: string;
  key?: string;
  atom?: AtomDef;
  text?: Atom;
}

function parseFormat(format: string, requestIdHeader?: string): Part[] {
  const parts: Part[] = [];
  let literal = '';
  let i = 0;
  while (i < format.length) {
    const pct = format.indexOf('%', i);
    if (pct < 0) {
      literal += format.slice(i);
      break;
    }
    literal += format.slice(i, pct);
    if (format[pct + 1] === '%') {
      literal += '%';
      i = pct + 2;
      continue;
    }
    SPEC.lastIndex = pct + 1;
    const m = SPEC.exec(format);
    if (!m) {
      literal += '%';
      i = pct + 1;
      continue;
    }
    if (literal) parts.push({ literal });
    literal = '';
    const key = m[1] as string;
    const atom = lookupAtom(key, requestIdHeader);
    const precision = m[4] ? Number(m[4]) : null;
    parts.push({ key, atom, text: withPadding(atom.text, m[2] ?? '', Number(m[3] || 0), precision) });
    i = SPEC.lastIndex;
  }
  if (literal) parts.push({ literal });
  return parts;
}

/**
 * Compiles a gunicorn access-log format into a function from an entry to one line (without "\n").
 * In JSON mode the line is access-json.ts's object, plus the headers the format's {Name}i and
 * {Name}o atoms name. `requestIdHeader`: --request-id-header, lower-case (its {Name}i atom shows
 * the id the app saw).
 */
export function compileAccessFormat(format: string, json = false, requestIdHeader?: string): (e: AccessEntry) => string {
  const parts = parseFormat(format, requestIdHeader);
  if (json) {
    const headers = { request: [] as string[], response: [] as string[] };
    for (const p of parts) {
      const braced = p.key === undefined ? null : /^\{(.+)\}([io])$/.exec(p.key);
      if (braced) headers[braced[2] === 'i' ? 'request' : 'response'].push((braced[1] as string).toLowerCase());
    }
    return compileJsonAccess(headers, requestIdHeader);
  }
  const pieces: Array<string | Atom> = parts.map((p) => p.literal ?? (p.text as Atom));
  if (pieces.length === 1 && typeof pieces[0] === 'string') {
    const constant = pieces[0];
    return () => constant;
  }
  return (e) => {
    let out = '';
    for (const piece of pieces) out += typeof piece === 'string' ? piece : piece(e);
    return out;
  };
}

/** What sees each finished request: the access log, StatsD. */
export interface RequestLog {
  log(entry: AccessEntry): void;
}

export interface AccessLogOptions {
  /** A path to append to, "-" for stdout, an fd (a front end's pipe), or null for no file (the lines go to `mirror` only). */
  file: string | number | null;
  format?: string;
  json?: boolean;
  /** --request-id-header, when on. */
  requestIdHeader?: string | null;
  /** Also gets each line (without "\n"): syslog. */
  mirror?: (line: string, entry: AccessEntry) => void;
}

export class AccessLog implements RequestLog {
  private readonly sink: LineSink | null;
  private readonly render: (e: AccessEntry) => string;
  private readonly mirror: ((line: string, entry: AccessEntry) => void) | undefined;

  constructor(options: AccessLogOptions) {
    this.render = compileAccessFormat(
      options.format ?? DEFAULT_ACCESS_LOG_FORMAT,
      options.json ?? false,
      options.requestIdHeader?.toLowerCase() ?? undefined,
    );
    this.sink = options.file === null ? null : new LineSink(options.file, { std: 'stdout', batch: true, label: '--access-logfile' });
    this.mirror = options.mirror;
  }

  log(entry: AccessEntry): void {
    const line = this.render(entry);
    this.sink?.write(line + '\n');
    this.mirror?.(line, entry);
  }

  /** Whole lines, already rendered by a front end, written as they are. */
  passLines(text: string): void {
    this.sink?.write(text);
  }

  async flush(): Promise<void> {
    await this.sink?.flush();
  }

  /** SIGUSR1: see LineSink.reopen. */
  reopen(): Error | null {
    return this.sink?.reopen() ?? null;
  }

  async close(): Promise<void> {
    await this.sink?.close();
  }
}
