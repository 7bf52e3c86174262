/**
 * Parsers for the values gunicorn takes in its own shapes (octal umasks, users by name or id,
 * statsd addresses, dotted class paths), and for values nodicorn refuses with a reason. Like
 * parsers.ts, each throws Invalid; a Refused carries its whole one-line reason.
 */
import { Invalid, type Parser } from './parsers';

/** A value nodicorn understands but will not run with; the message says why and what to use. */
export class Refused extends Invalid {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'Refused';
  }
}

/**
 * An integer as gunicorn reads one (Python's int(x, 0): 18, 0o22, 0x12), and also the octal
 * spelling people write for a umask (022), which gunicorn itself rejects.
 */
export const intBase0: Parser<number> = {
  expected: 'a non-negative integer (decimal, 0o octal, 0x hex, or octal with a leading 0)',
  parse(raw) {
    const text = raw.trim().replace(/_/g, '');
    let n: number;
    if (/^0[oO][0-7]+$/.test(text)) n = parseInt(text.slice(2), 8);
    else if (/^0[xX][0-9a-fA-F]+$/.test(text)) n = parseInt(text.slice(2), 16);
    else if (/^0[bB][01]+$/.test(text)) n = parseInt(text.slice(2), 2);
    else if (/^0[0-7]+$/.test(text)) n = parseInt(text, 8);
    else if (/^\+?\d{1,15}$/.test(text)) n = Number(text);
    else throw new Invalid();
    return n;
  },
};

/** A user or group: a name, or a numeric id (kept as text; the process code resolves it). */
export const account: Parser<string> = {
  expected: 'a user or group name, or a numeric id',
  parse(raw) {
    const text = raw.trim();
    if (!/^[A-Za-z0-9_.][A-Za-z0-9_.$-]*$/.test(text)) throw new Invalid();
    return text;
  },
};

/** Text that may be empty (gunicorn's '' defaults: statsd_prefix, dogstatsd_tags, root_path). */
export const anyText: Parser<string> = {
  expected: 'a string',
  parse: (raw) => raw,
};

/** statsd's address: HOST:PORT (port 8125 when left out), or unix:PATH / unix://PATH. */
export const statsdAddress: Parser<string> = {
  expected: 'HOST:PORT or unix:PATH',
  parse(raw) {
    const text = raw.trim();
    if (text.startsWith('unix:')) {
      if (text.replace(/^unix:(\/\/)?/, '') === '') throw new Invalid();
      return text;
    }
    const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s[\]]+)(?::(\d{1,5}))?$/.exec(text);
    if (!m || (m[2] !== undefined && Number(m[2]) > 65535)) throw new Invalid();
    return m[2] === undefined ? `${text}:8125` : text;
  },
};

/** A Python dotted name, `module.Class` (also gunicorn's `egg:dist#entry` spelling). */
export const dottedName: Parser<string> = {
  expected: 'a dotted Python name such as package.module.Class',
  parse(raw) {
    const text = raw.trim();
    if (!/^(egg:[\w.-]+#)?[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$/.test(text)) throw new Invalid();
    return text;
  },
};

/**
 * One of `accepted` (case-insensitive, normalised through `alias`); a word in `refused` stops
 * startup with its reason; anything else is invalid.
 */
export function choiceOrRefused<const W extends readonly string[]>(
  accepted: W,
  refused: Readonly<Record<string, string>>,
  alias: Readonly<Record<string, W[number]>> = {},
): Parser<W[number]> {
  return {
    expected: `one of ${accepted.join(', ')}`,
    parse(raw) {
      const word = raw.trim().toLowerCase();
      const found = accepted.find((w) => w === word) ?? alias[word];
      if (found !== undefined) return found;
      const reason = refused[word];
      if (reason !== undefined) throw new Refused(reason);
      throw new Invalid();
    },
    fromJson(value) {
      if (typeof value === 'boolean' && alias[String(value)] !== undefined) return alias[String(value)] as W[number];
      if (value === null && alias['none'] !== undefined) return alias['none'] as W[number];
      if (typeof value !== 'string') throw new Invalid();
      return this.parse(value);
    },
  };
}

/** A dict, from a config file only (logconfig_dict). On the command line, JSON text. */
export const dict: Parser<Record<string, unknown>> = {
  expected: 'a dict (JSON object)',
  parse(raw) {
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      throw new Invalid();
    }
    return this.fromJson?.(value) as Record<string, unknown>;
  },
  fromJson(value) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Invalid();
    return value as Record<string, unknown>;
  },
};
