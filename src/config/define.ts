/**
 * The vocabulary of the settings registry: what a setting is, and the helpers that declare one
 * (`one`, `many`, `flag`, `action`). The registry itself is settings.ts.
 */
import * as P from './parsers';
import type { Parser } from './parsers';

export const SECTIONS = [
  'Application',
  'Config File',
  'Server Socket',
  'Worker Processes',
  'Server Mechanics',
  'Security',
  'SSL',
  'Logging',
  'Process Naming',
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

export interface Common {
  readonly section: Section;
  /** Command-line spellings, short first: ['-w', '--workers']. Empty for the positional app. */
  readonly flags: readonly string[];
  /** Placeholder in --help and the docs: `-w INT`. */
  readonly metavar: string;
  readonly doc: string;
}

export interface Setting<T> extends Common {
  readonly kind: 'value';
  /** undefined: the env var is NODICORN_<UPPER_SNAKE of the key> (see ENTRIES); null: none. */
  readonly envOverride: string | null | undefined;
  /** The gunicorn-style config-file name, or null when a config file cannot set it. */
  readonly file: string | null;
  /** The APP_MODULE argument rather than a flag. */
  readonly positional: boolean;
  /** Each occurrence adds an item; a higher-precedence source replaces the whole list. */
  readonly repeatable: boolean;
  /** A flag that takes no argument (its presence means true). */
  readonly isSwitch: boolean;
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

type Default<T> = T | ((ctx: DefaultContext) => T);

interface ValueSpec<T> {
  section: Section;
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
    flags: spec.flags,
    metavar: spec.metavar,
    doc: spec.doc,
    file: spec.file,
    envOverride: spec.env,
    isSwitch: false,
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

/** A flag without an argument: present means true (`--reload`). */
export function flag(spec: Omit<ValueSpec<boolean>, 'metavar'>): Setting<boolean> {
  return {
    ...one<boolean>({ ...spec, metavar: '', parser: P.boolean }),
    isSwitch: true,
    fromOccurrences: (raws) => (raws.length === 0 ? false : P.boolean.parse(raws[raws.length - 1] ?? 'true')),
  };
}

export function action(spec: Common & { action: Action['action'] }): Action {
  return { kind: 'action', ...spec };
}
