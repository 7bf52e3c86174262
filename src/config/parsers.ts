/**
 * Value parsers for the settings registry. A parser turns one raw value (a flag's argument, an
 * env var, a config-file value) into a typed one, or throws Invalid; the loader turns that into
 * one ConfigError line naming the flag, its source and `expected`.
 */
import { parseBind } from './address';
import { ADDRESS_LIST_EXPECTED, parseAddressRule } from '../http/proxy/address-list';
import { parseStaticMapping, STATIC_MAP_EXPECTED } from '../http/static/mounts';

/** Thrown by a parser: the value is not what `expected` describes. */
export class Invalid extends Error {
  constructor(
    readonly expected?: string,
    /** The part of a value at fault (one item of a list), when not the whole value. */
    readonly culprit?: { value: unknown },
  ) {
    super(expected ?? 'invalid value');
    this.name = 'Invalid';
  }
}

export interface Parser<T> {
  /** What a valid value looks like, for errors, --help and the docs: "a positive integer". */
  readonly expected: string;
  parse(raw: string): T;
  /**
   * A config-file value (already JSON: string, number, boolean, list, null). Without it, strings,
   * numbers and booleans go through parse() as text.
   */
  fromJson?(value: unknown): T;
}

/** Config-file values that are plain text-like scalars go through parse() as their text form. */
export function scalarFromJson<T>(parser: Parser<T>, value: unknown): T {
  if (parser.fromJson) return parser.fromJson(value);
  if (typeof value === 'string') return parser.parse(value);
  if (typeof value === 'number' || typeof value === 'boolean') return parser.parse(String(value));
  throw new Invalid();
}

function integer(min: number, expected: string, max = Number.MAX_SAFE_INTEGER): Parser<number> {
  return {
    expected,
    parse(raw) {
      const text = raw.trim();
      if (!/^\+?\d{1,15}$/.test(text)) throw new Invalid();
      const n = Number(text);
      if (n < min || n > max) throw new Invalid();
      return n;
    },
  };
}

/** A whole number from min to max, both included. */
export function intRange(min: number, max: number): Parser<number> {
  return integer(min, `a whole number from ${min} to ${max}`, max);
}

export const positiveInt = integer(1, 'a positive integer');
export const nonNegativeInt = integer(0, 'a non-negative integer');
export const milliseconds = integer(0, 'a whole number of milliseconds (0 or more)');

/** Seconds as a decimal number, 0 or more (gunicorn takes integers; fractions are a superset). */
export const seconds: Parser<number> = {
  expected: 'a number of seconds (0 or more)',
  parse(raw) {
    const text = raw.trim();
    if (!/^\+?(\d+(\.\d*)?|\.\d+)$/.test(text)) throw new Invalid();
    return Number(text);
  },
};

export const text: Parser<string> = {
  expected: 'a non-empty string',
  parse(raw) {
    if (raw === '') throw new Invalid();
    return raw;
  },
};

/** A file to log to; "-" means the standard stream the setting names. */
export const logTarget: Parser<string> = {
  expected: 'a file path or -',
  parse(raw) {
    if (raw.trim() === '') throw new Invalid();
    return raw;
  },
};

export const path: Parser<string> = {
  expected: 'a path',
  parse(raw) {
    if (raw.trim() === '') throw new Invalid();
    return raw;
  },
};

/** One of a fixed set of words, case-insensitive; the value is the lower-case word. */
export function choice<const W extends readonly string[]>(words: W): Parser<W[number]> {
  return {
    expected: `one of ${words.join(', ')}`,
    parse(raw) {
      const word = raw.trim().toLowerCase();
      const found = words.find((w) => w === word);
      if (found === undefined) throw new Invalid();
      return found;
    },
  };
}

export const boolean: Parser<boolean> = {
  expected: 'true or false',
  parse(raw) {
    const word = raw.trim().toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(word)) return true;
    if (['0', 'false', 'no', 'off'].includes(word)) return false;
    throw new Invalid();
  },
  fromJson(value) {
    if (typeof value === 'boolean') return value;
    if (typeof value === 'number' || typeof value === 'string') return this.parse(String(value));
    throw new Invalid();
  },
};

/** gunicorn's address forms; the listener (src/http/address.ts) parses them the same way. */
export const bind: Parser<string> = {
  expected: 'HOST:PORT, [HOST]:PORT, :PORT or unix:PATH',
  parse(raw) {
    if (!parseBind(raw)) throw new Invalid();
    return raw;
  },
};

/** An environment variable for the workers: KEY=VALUE, KEY non-empty. */
export const keyValue: Parser<string> = {
  expected: 'KEY=VALUE',
  parse(raw) {
    if (raw.indexOf('=') < 1) throw new Invalid();
    return raw;
  },
};

/** --static-map's URL_PREFIX=DIR (the DIR is checked when the server starts). */
export const staticMapping: Parser<string> = {
  expected: STATIC_MAP_EXPECTED,
  parse(raw) {
    if (!parseStaticMapping(raw)) throw new Invalid();
    return raw;
  },
};

/** "a,b , c" → ["a", "b", "c"]; a config file may also give a list. */
export const commaList: Parser<string[]> = {
  expected: 'a comma-separated list',
  parse(raw) {
    return raw
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  },
  fromJson(value) {
    if (value === null) return []; // gunicorn's None
    if (typeof value === 'string') return this.parse(value);
    if (Array.isArray(value) && value.every((v): v is string => typeof v === 'string')) {
      return value.map((s) => s.trim()).filter((s) => s !== '');
    }
    throw new Invalid();
  },
};

/** A comma list (or a config file's list) whose items `check` validates and may normalise. */
function checkedList<T>(expected: string, check: (items: string[]) => T[]): Parser<T[]> {
  return {
    expected,
    parse(raw) {
      return check(commaList.parse(raw));
    },
    fromJson(value) {
      return check(commaList.fromJson?.(value) ?? []);
    },
  };
}

/** "/upload,/ws" → URL path prefixes, each starting with "/"; a config file may give a list. */
export const pathPrefixes = checkedList('a comma-separated list of paths starting with /', checkPrefixes);

function checkPrefixes(items: string[]): string[] {
  const bad = items.find((p) => !p.startsWith('/'));
  if (bad !== undefined) throw new Invalid(undefined, { value: bad });
  return items;
}

/** The WSGI app: module:attr, module, module:factory(...) or file.py[:attr]; the worker checks the rest. */
export const appSpec: Parser<string> = {
  expected: 'an app such as module:application',
  parse(raw) {
    const spec = raw.trim();
    if (spec === '' || spec.startsWith(':') || spec.endsWith(':') || /\s/.test(spec.split('(')[0] ?? '')) throw new Invalid();
    return spec;
  },
};

/** An attribute of a module, as the app's :NAME part takes it: `app`, `api.wsgi_app`. */
export const pythonName: Parser<string> = {
  expected: 'a Python name such as app',
  parse(raw) {
    const text = raw.trim();
    if (!/^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$/.test(text)) throw new Invalid();
    return text;
  },
};

/** gunicorn's --cert-reqs: the integer values of Python's ssl.CERT_NONE, CERT_OPTIONAL, CERT_REQUIRED. */
export const certReqs: Parser<0 | 1 | 2> = {
  expected: '0 (CERT_NONE), 1 (CERT_OPTIONAL) or 2 (CERT_REQUIRED)',
  parse(raw) {
    const text = raw.trim();
    if (text === '0' || text === '1' || text === '2') return Number(text) as 0 | 1 | 2;
    throw new Invalid();
  },
};

export const HTTP_PROTOCOLS = ['h1', 'h2'] as const;
export type HttpProtocol = (typeof HTTP_PROTOCOLS)[number];

/** "h2,h1": each of h1 and h2 at most once, at least one. */
export const httpProtocols = checkedList('a comma-separated list of h1 and h2', checkProtocols);

function checkProtocols(items: string[]): HttpProtocol[] {
  const out: HttpProtocol[] = [];
  for (const item of items) {
    const word = HTTP_PROTOCOLS.find((p) => p === item.toLowerCase());
    if (word === undefined) throw new Invalid(undefined, { value: item });
    if (out.includes(word)) throw new Invalid('each of h1 and h2 at most once', { value: item });
    out.push(word);
  }
  if (out.length === 0) throw new Invalid();
  return out;
}

/** Trusted peers: addresses and CIDR networks, or "*"; a config file may also give a list. */
export const addressList = checkedList(ADDRESS_LIST_EXPECTED, check);

function check(items: string[]): string[] {
  for (const item of items) {
    if (item !== '*' && !parseAddressRule(item)) throw new Invalid(undefined, { value: item });
  }
  return items;
}

/**
 * gunicorn's forwarder_headers: upper-case environ names (SCRIPT_NAME, PATH_INFO, REMOTE_USER…)
 * a trusted front end may set with a header of that exact name. Names that would alias the body's
 * framing are refused.
 */
export const forwarderHeaders = checkedList(
  'a comma-separated list of upper-case environ names such as SCRIPT_NAME,PATH_INFO (not CONTENT_LENGTH or CONTENT_TYPE)',
  checkForwarderNames,
);

function checkForwarderNames(items: string[]): string[] {
  const out = items.map((item) => item.toUpperCase());
  const bad = out.find((name) => !/^[A-Z][A-Z0-9_]*$/.test(name) || name === 'CONTENT_LENGTH' || name === 'CONTENT_TYPE');
  if (bad !== undefined) throw new Invalid(undefined, { value: bad });
  return [...new Set(out)];
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * gunicorn's secure_scheme_headers: header name → the value that means https. On the command
 * line and in env vars "NAME:VALUE,NAME:VALUE" ("" for none); a config file gives a dict.
 * Names are kept upper-case, as gunicorn spells them.
 */
export const schemeHeaders: Parser<Record<string, string>> = {
  expected: 'header:value pairs separated by commas (X-FORWARDED-PROTO:https), or a dict in a config file',
  parse(raw) {
    const out: Record<string, string> = {};
    for (const pair of raw.split(',')) {
      if (pair.trim() === '') continue;
      const colon = pair.indexOf(':');
      if (colon < 0) throw new Invalid(undefined, { value: pair.trim() });
      add(out, pair.slice(0, colon), pair.slice(colon + 1), pair.trim());
    }
    return out;
  },
  fromJson(value) {
    if (typeof value === 'string') return this.parse(value);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Invalid();
    const out: Record<string, string> = {};
    for (const [name, v] of Object.entries(value)) {
      if (typeof v !== 'string') throw new Invalid(undefined, { value: { [name]: v } });
      add(out, name, v, { [name]: v });
    }
    return out;
  },
};

function add(out: Record<string, string>, name: string, value: string, culprit: unknown): void {
  const key = name.trim().toUpperCase();
  const text = value.trim();
  if (!HEADER_NAME.test(key) || text === '') throw new Invalid(undefined, { value: culprit });
  out[key] = text;
}
