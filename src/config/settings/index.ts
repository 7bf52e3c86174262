/**
 * THE settings registry. Each setting is declared once, in the file of its section here; the
 * command-line parser, the env vars, the config-file keys, --help, docs/settings.md and the
 * `Config` type all come from it. A new setting is one more entry in its section's file (see
 * define.ts for `one`, `many`, `flag`, `optional`, `hook`), and every one says how it compares
 * with gunicorn's (`gunicorn`: 'same', 'nodicorn', differs, noEffect or refused).
 */
import type { Action, Hook, Setting } from '../define';
import { APPLICATION } from './application';
import { BUFFERING } from './buffering';
import { DIRTY_SETTINGS } from './dirty';
import { DISPATCH } from './dispatch';
import { HOOKS } from './hooks';
import { LOGGING } from './logging';
import { MECHANICS } from './mechanics';
import { NAMING } from './naming';
import { OPERATIONS } from './operations';
import { PARSING } from './parsing';
import { PROXY } from './proxy';
import { RECYCLING } from './recycling';
import { REQUEST_ID } from './request-id';
import { SECURITY } from './security';
import { SOCKET } from './socket';
import { SSL } from './ssl';
import { STATIC } from './static';
import { UWSGI } from './uwsgi';
import { WORKERS } from './workers';

export { SECTIONS, type Section, type Setting, type Action, type Hook, type Parity, type DefaultContext } from '../define';
export type { WorkerClass } from './workers';

export const SETTINGS = {
  ...APPLICATION,
  ...SOCKET,
  ...WORKERS,
  ...RECYCLING,
  ...DISPATCH,
  ...SECURITY,
  ...MECHANICS,
  ...OPERATIONS,
  ...BUFFERING,
  ...STATIC,
  ...PROXY,
  ...PARSING,
  ...LOGGING,
  ...REQUEST_ID,
  ...NAMING,
  ...SSL,
  ...HOOKS,
  ...DIRTY_SETTINGS,
  ...UWSGI,
} as const;

type Registry = typeof SETTINGS;
/** Keys of the settings that hold a value (not --help / --version, not hooks). */
export type SettingKey = { [K in keyof Registry]: Registry[K] extends { kind: 'value' } ? K : never }[keyof Registry];
/** Keys of the server hooks. */
export type HookKey = { [K in keyof Registry]: Registry[K] extends { kind: 'hook' } ? K : never }[keyof Registry];

/**
 * The server's configuration, derived from the registry, plus `hooks`: the gunicorn names of the
 * server hooks the config file defines ('post_fork', ...), for the Python side to call.
 */
export type Config = { [K in SettingKey]: Registry[K] extends Setting<infer T> ? T : never } & { readonly hooks: readonly string[] };

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
export interface HookEntry {
  readonly key: HookKey;
  readonly setting: Hook;
  readonly env: null;
}
export type Entry = SettingEntry | ActionEntry | HookEntry;

/** Every entry with its key and env var, in declaration order. */
export const ENTRIES: ReadonlyArray<Entry> = Object.entries(SETTINGS).map(([key, s]): Entry => {
  if (s.kind === 'action') return { key, setting: s, env: null };
  if (s.kind === 'hook') return { key: key as HookKey, setting: s, env: null };
  const setting = s as Setting<unknown>;
  const env = setting.envOverride === undefined ? envName(key) : setting.envOverride;
  return { key: key as SettingKey, setting, env };
});

export const VALUE_ENTRIES: readonly SettingEntry[] = ENTRIES.filter((e): e is SettingEntry => e.setting.kind === 'value');
export const HOOK_ENTRIES: readonly HookEntry[] = ENTRIES.filter((e): e is HookEntry => e.setting.kind === 'hook');

/** The primary long flag (the first `--` spelling) for messages: --error-logfile, not --log-file. */
export function primaryFlag(setting: Setting<unknown> | Action | Hook): string {
  if (setting.kind === 'hook') return setting.file;
  if (setting.flags.length === 0 && setting.kind === 'value' && setting.file && !setting.positional) return setting.file;
  return setting.flags.find((f) => f.startsWith('--')) ?? setting.flags[0] ?? setting.metavar;
}
