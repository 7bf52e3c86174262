/**
 * The vocabulary of the settings registry: what a setting is, and the helpers that declare one
 * (`one`, `many`, `flag`, `action`, `hook`). The registry itself is settings/ (one file per
 * section, assembled by settings/index.ts).
 */
import * as P from './parsers';
import type { Parser } from './parsers';

/** gunicorn's sections, in its order, then nodicorn's own. */
export const SECTIONS = [
  'Application',
  'Config File',
  'Server Socket',
  'Worker Processes',
  'Security',
  'Debugging',
  'Server Mechanics',
  'Proxies',
  'HTTP Parsing',
  'Logging',
  'Process Naming',
  'SSL',
  'HTTP/2',
  'Server Hooks',
  'Dirty Arbiters',
  'Control',
  'General',
] as const;
export type Section = (typeof SECTIONS)[number];

/** What a default may look at. A default read from the environment goes through `read()`. */
export interface DefaultContext {
  /** The directory nodicorn was started in. */
  readonly cwd: string;
  /**
   * An environment variable, or undefined when unset or empty. Reading one that is set makes it
   * the default's source ("env PORT") for `sources` and error messages.
   */
  read(name: string): string | undefined;
}

/**
 * How a setting compares with gunicorn 27's of the same name:
 * - 'same': it does what gunicorn documents;
 * - 'nodicorn': nodicorn's own, gunicorn has no such setting;
 * - differs: it works, with the difference said here (value-dependent refusals, such as
 *   `-k gevent`, are the parser's and are said here too);
 * - noEffect: accepted, and a value other than the default warns once at startup with this reason;
 * - refused: a value other than the default stops startup (exit 2) with this reason.
 */
export type Parity = 'same' | 'nodicorn' | { readonly differs: string } | { readonly noEffect: string } | { readonly refused: string };

export interface Common {
  readonly section: Section;
  readonly gunicorn: Parity;
  /** Command-line spellings, short first: ['-w', '--workers']. Empty for the positional app. */
  readonly flags: readonly string[];
  /** Placeholder in --help and the docs: `-w INT`. */
  readonly metavar: string;
  readonly doc: string;
}

/**
 * Another server's spelling of a setting's flag, so its command line runs unchanged
 * (`uwsgi --http :8051` as `nodicorn --http :8051`). gunicorn has none of these flags (a test
 * walks gunicorn's list), so as flags they are nodicorn's own.
 */
export interface Alias {
  readonly flags: readonly string[];
  /** Whose spelling it is, for --help and the docs: 'uWSGI'. */
  readonly from: string;
  /** The other server's value in this setting's form (uWSGI's bare socket path → unix:PATH). */
  readonly rewrite?: (raw: string) => string;
}

export interface Setting<T> extends Common {
  readonly kind: 'value';
  /** Other servers' spellings of the flag (see Alias). */
  readonly aliases: readonly Alias[];
  /** undefined: the env var is NODICORN_<UPPER_SNAKE of the key> (see ENTRIES); null: none. */
  readonly envOverride: string | null | undefined;
  /** The gunicorn-style config-file name, or null when a config file cannot set it. */
  readonly file: string | null;
  /** The APP_MODULE argument rather than a flag. */
  readonly positional: boolean;
  /** Each occurrence adds an item; a higher-precedence source replaces the whole list. */
  readonly repeatable: boolean;
  /** A flag that takes no argument (its presence means `bareValue`). */
  readonly isSwitch: boolean;
  /**
   * What the flag means given without an argument: 'true' for a switch (--reload), 'false' for a
   * negative one (--no-sendfile), gunicorn's `const` for an optional argument (--proxy-protocol).
   */
  readonly bareValue: string | null;
  /** The flag takes the next word only when that word is a valid value (argparse's nargs='?'). */
  readonly optionalArg: boolean;
  /** A config-file `None` / JSON null is allowed and means "off". */
  readonly nullable: boolean;
  /** For errors, --help and docs: "a positive integer". */
  readonly expected: string;
  /** The default, as words for --help and the docs. */
  readonly defaultDoc: string;
  /** One raw occurrence (a flag's argument, a list item) → a value or a list item. Throws Invalid. */
  parseItem(raw: string): unknown;
  /** A config-file value → the setting's value. Throws Invalid. */
  fromJson(value: unknown): T;
  /** Combines the raw occurrences of one source into the setting's value. Throws Invalid. */
  fromOccurrences(raws: readonly string[]): T;
  defaultValue(ctx: DefaultContext): T;
}

export interface Action extends Common {
  readonly kind: 'action';
  readonly action: 'help' | 'version';
}

/**
 * A gunicorn server hook: a callable only a Python config file can define (no flag, no env var).
 * The config file's loader reports which hooks it defines; Python processes call them.
 */
export interface Hook extends Common {
  readonly kind: 'hook';
  /** gunicorn's name, the config file's function name: 'post_fork'. */
  readonly file: string;
  /** gunicorn's signature, for the docs: '(server, worker)'. */
  readonly signature: string;
  /** Where gunicorn calls it. */
  readonly runsIn: 'arbiter' | 'worker';
}

type Default<T> = T | ((ctx: DefaultContext) => T);

interface ValueSpec<T> {
  section: Section;
  gunicorn: Parity;
  flags: readonly string[];
  metavar: string;
  doc: string;
  file: string | null;
  /** Defaults to NODICORN_<UPPER_SNAKE of the key>; null for none. */
  env?: string | null;
  default: Default<T>;
  /** Needed when the default is a function or not self-explanatory. */
  defaultDoc?: string;
  positional?: boolean;
  aliases?: readonly Alias[];
}

function describeDefault(value: unknown): string {
  if (value === null) return 'none';
  if (Array.isArray(value)) return value.length === 0 ? 'none' : value.map((v) => describeDefault(v)).join(', ');
  if (typeof value === 'string') return `'${value}'`;
  return String(value);
}

function resolveDefault<T>(d: Default<T>, ctx: DefaultContext): T {
  return typeof d === 'function' ? (d as (ctx: DefaultContext) => T)(ctx) : d;
}

/** The fields every value setting takes straight from its spec and parser. */
function shared<T, I>(spec: ValueSpec<T>, parser: Parser<I>) {
  return {
    kind: 'value' as const,
    section: spec.section,
    gunicorn: spec.gunicorn,
    flags: spec.flags,
    aliases: spec.aliases ?? [],
    metavar: spec.metavar,
    doc: spec.doc,
    file: spec.file,
    envOverride: spec.env,
    isSwitch: false,
    bareValue: null,
    optionalArg: false,
    expected: parser.expected,
    defaultDoc: spec.defaultDoc ?? describeDefault(spec.default),
    parseItem: (raw: string) => parser.parse(raw),
  };
}

/** A setting holding one value; the last occurrence in a source wins. */
export function one<T>(spec: ValueSpec<T> & { parser: Parser<T>; nullable?: boolean }): Setting<T> {
  const { parser } = spec;
  return {
    ...shared(spec, parser),
    positional: spec.positional ?? false,
    repeatable: false,
    nullable: spec.nullable ?? false,
    fromJson(value) {
      if (value === null && this.nullable) return null as T;
      return P.scalarFromJson(parser, value);
    },
    fromOccurrences(raws) {
      return parser.parse(raws[raws.length - 1] ?? '');
    },
    defaultValue: (ctx) => resolveDefault(spec.default, ctx),
  };
}

/** A repeatable setting: every occurrence adds an item (`-b a -b b`). */
export function many<T>(spec: ValueSpec<T[]> & { parser: Parser<T> }): Setting<T[]> {
  const { parser } = spec;
  return {
    ...shared(spec, parser),
    positional: false,
    repeatable: true,
    nullable: false,
    fromJson(value) {
      if (value === null) return []; // gunicorn's list settings take None as empty
      return (Array.isArray(value) ? value : [value]).map((item: unknown) => {
        try {
          return P.scalarFromJson(parser, item);
        } catch (err) {
          throw err instanceof P.Invalid ? new P.Invalid(err.expected, { value: item }) : err;
        }
      });
    },
    fromOccurrences: (raws) => raws.map((raw) => parser.parse(raw)),
    defaultValue: (ctx) => resolveDefault(spec.default, ctx),
  };
}

/**
 * A flag without an argument: present means true (`--reload`), or false with `negative`
 * (`--no-sendfile`). `nullable` lets a config file say None (gunicorn's "unset").
 */
export function flag(spec: Omit<ValueSpec<boolean>, 'metavar'> & { negative?: boolean; nullable?: boolean }): Setting<boolean> {
  const bare = spec.negative ? 'false' : 'true';
  const base = one<boolean>({ ...spec, metavar: '', parser: P.boolean });
  return {
    ...base,
    isSwitch: true,
    bareValue: bare,
    // gunicorn's validate_bool takes None as "not set": the default.
    fromJson: (value) => (value === null ? base.defaultValue({ cwd: '', read: () => undefined }) : base.fromJson(value)),
    fromOccurrences: (raws) => P.boolean.parse(raws[raws.length - 1] ?? bare),
  };
}

/**
 * A flag whose argument may be left out (argparse's nargs='?'): bare, it means `bare`; it takes
 * the next word only when the parser accepts it, so `--proxy-protocol app:app` keeps the app.
 */
export function optional<T>(spec: ValueSpec<T> & { parser: Parser<T>; bare: string }): Setting<T> {
  return { ...one<T>(spec), bareValue: spec.bare, optionalArg: true };
}

export function action(spec: Common & { action: Action['action'] }): Action {
  return { kind: 'action', ...spec };
}

export function hook(spec: Omit<Hook, 'kind' | 'flags' | 'metavar' | 'section'> & { section?: Section }): Hook {
  return { kind: 'hook', flags: [], metavar: '', section: 'Server Hooks', ...spec };
}
