/**
 * Builds a Config from every source, lowest precedence first:
 *
 *   defaults  <  config file  <  env NODICORN_*  <  GUNICORN_CMD_ARGS  <  NODICORN_CMD_ARGS  <  argv
 *
 * (Defaults may read WEB_CONCURRENCY and PORT.) A higher source replaces a lower one's value whole,
 * lists included. Every value is checked where it is read, and a bad one becomes one ConfigError
 * line naming the flag, the source and what was expected. The config file is -c (from any source
 * above it), else ./nodicorn.conf.py, else ./gunicorn.conf.py: a file written for nodicorn wins
 * over one kept for gunicorn.
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ConfigError } from '../errors';
import { renderHelp, renderVersion } from './help';
import { parseArgs, shellSplit, type ParsedArgs } from './argv';
import { readConfigFile } from './file';
import { Refused } from './gunicorn-parsers';
import { checkParity } from './parity';
import { resolvePython } from './python';
import { withCallable } from './settings/uwsgi';
import { Invalid } from './parsers';
import {
  HOOK_ENTRIES,
  SETTINGS,
  VALUE_ENTRIES,
  primaryFlag,
  type Config,
  type DefaultContext,
  type SettingEntry,
  type SettingKey,
} from './settings';

export type LoadResult =
  | { kind: 'help'; text: string }
  | { kind: 'version'; text: string }
  | {
      kind: 'config';
      config: Config;
      /** Where each value came from: "default", "argv", "env NODICORN_WORKERS", "config file /x.py", ... */
      sources: Record<SettingKey, string>;
      /** Things worth saying that are not errors (unknown names in the config file). */
      warnings: string[];
    };

/** Read in this order when no -c is given; the first that exists is the config file. */
export const DEFAULT_CONFIG_FILES = ['./nodicorn.conf.py', './gunicorn.conf.py'] as const;
/** Extra command-line arguments from the environment, lowest precedence first. */
export const CMD_ARGS_ENVS = ['GUNICORN_CMD_ARGS', 'NODICORN_CMD_ARGS'] as const;
/** `-c python:package.module`: a module on the Python path, as gunicorn takes it. */
const PYTHON_MODULE = /^python:([A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*)$/;

/** One source's values, already parsed. */
interface Layer {
  readonly source: string;
  readonly values: Map<SettingKey, unknown>;
}

/** `"abc"` for text, `0` / `[1,2]` for other config-file values. */
function shown(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

function invalid(entry: SettingEntry, source: string, value: unknown, err: unknown, flag = primaryFlag(entry.setting)): never {
  if (!(err instanceof Invalid)) throw err;
  const got = err.culprit ? err.culprit.value : value;
  if (err instanceof Refused) throw new ConfigError(`${flag} ${typeof got === 'string' ? got : shown(got)} (from ${source}): refused: ${err.reason}`);
  throw new ConfigError(`${flag} (from ${source}): expected ${err.expected ?? entry.setting.expected}, got ${shown(got)}`);
}

/** Occurrences of flags in argv or NODICORN_CMD_ARGS → a layer. */
function argsLayer(parsed: ParsedArgs, source: string): Layer {
  const raws = new Map<SettingEntry, string[]>();
  for (const occ of parsed.occurrences) {
    if (occ.entry.setting.kind !== 'value') continue;
    const entry = occ.entry as SettingEntry;
    const raw = occ.raw ?? entry.setting.bareValue ?? 'true'; // a switch given bare
    try {
      entry.setting.parseItem(raw);
    } catch (err) {
      invalid(entry, source, raw, err, occ.alias);
    }
    raws.set(entry, [...(raws.get(entry) ?? []), raw]);
  }
  if (parsed.positionals.length > 1) {
    const got = parsed.positionals.map((p) => shown(p)).join(' ');
    throw new ConfigError(`APP_MODULE (from ${source}): expected one app, got ${parsed.positionals.length}: ${got}`);
  }
  const app = parsed.positionals[0];
  if (app !== undefined) {
    const named = parsed.occurrences.find((occ) => occ.entry.key === 'app');
    if (named) throw new ConfigError(`${named.alias ?? named.flag} (from ${source}): expected it or APP_MODULE, got both (${shown(named.raw)} and ${shown(app)})`);
    raws.set(entryOf('app'), [app]);
  }
  const values = new Map<SettingKey, unknown>();
  for (const [entry, list] of raws) {
    try {
      values.set(entry.key, entry.setting.fromOccurrences(list));
    } catch (err) {
      invalid(entry, source, list[list.length - 1], err);
    }
  }
  return { source, values };
}

function entryOf(key: SettingKey): SettingEntry {
  const entry = VALUE_ENTRIES.find((e) => e.key === key);
  if (!entry) throw new Error(`no setting ${key}`);
  return entry;
}

/** NODICORN_* variables; empty ones count as unset. Repeatable ones hold space-separated items. */
function envLayer(env: NodeJS.ProcessEnv): Layer {
  const values = new Map<SettingKey, unknown>();
  for (const entry of VALUE_ENTRIES) {
    if (!entry.env) continue;
    const raw = env[entry.env];
    if (raw === undefined || raw === '') continue;
    const source = `env ${entry.env}`;
    const list = entry.setting.repeatable ? shellSplit(raw, source) : [raw];
    let item = '';
    try {
      for (item of list) entry.setting.parseItem(item);
      values.set(entry.key, entry.setting.fromOccurrences(list));
    } catch (err) {
      invalid(entry, source, item, err);
    }
  }
  return { source: 'env', values };
}

interface FileLayer extends Layer {
  readonly warnings: string[];
  /** gunicorn names of the server hooks the file defines. */
  readonly hooks: string[];
}

async function fileLayer(file: string, label: string, python: string, cwd: string, env: NodeJS.ProcessEnv): Promise<FileLayer> {
  const source = `config file ${file}`;
  const { values: raw, unserializable, hooks } = await readConfigFile(file, python, cwd, env, label);
  const values = new Map<SettingKey, unknown>();
  const warnings: string[] = [];
  for (const [name, value] of Object.entries(raw)) {
    const hook = HOOK_ENTRIES.find((e) => e.setting.file === name);
    if (hook) throw new ConfigError(`${name} (from ${source}): expected a function ${name}${hook.setting.signature}, got ${shown(value)}`);
    const entry = VALUE_ENTRIES.find((e) => e.setting.file === name);
    if (!entry) {
      warnings.push(`${source}: unknown setting "${name}" ignored`);
      continue;
    }
    try {
      values.set(entry.key, entry.setting.fromJson(value));
    } catch (err) {
      invalid(entry, `${source}, key ${name}`, value, err);
    }
  }
  for (const name of unserializable) {
    const known = VALUE_ENTRIES.some((e) => e.setting.file === name);
    warnings.push(`${source}: ${known ? 'setting' : 'unknown name'} "${name}" is not a plain value; ignored`);
  }
  return { source, values, warnings, hooks };
}

async function exists(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

/** The highest-precedence value among layers (highest last), with its source. */
function top(layers: readonly Layer[], key: SettingKey): { value: unknown; source: string } | undefined {
  for (let i = layers.length - 1; i >= 0; i--) {
    const layer = layers[i] as Layer;
    if (layer.values.has(key)) {
      const source = layer.source === 'env' ? `env ${entryOf(key).env ?? ''}` : layer.source;
      return { value: layer.values.get(key), source };
    }
  }
  return undefined;
}

export async function loadConfig(argv: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<LoadResult> {
  const fromArgv = parseArgs(argv, 'argv');
  // --help and --version win over everything else on the command line, as with argparse.
  for (const occ of fromArgv.occurrences) {
    if (occ.entry.setting.kind === 'action') {
      return occ.entry.setting.action === 'help' ? { kind: 'help', text: renderHelp() } : { kind: 'version', text: renderVersion() };
    }
  }
  const cmdArgs = CMD_ARGS_ENVS.map((name) => {
    const text = env[name];
    return argsLayer(text ? parseArgs(shellSplit(text, name), name) : { occurrences: [], positionals: [] }, name);
  });

  // Highest last; the config file goes underneath once we know which file it is.
  const upper: Layer[] = [envLayer(env), ...cmdArgs, argsLayer(fromArgv, 'argv')];

  const warnings: string[] = [];
  const layers: Layer[] = [...upper];
  const chosen = top(upper, 'config');
  let configFile: string | null = null;
  if (chosen && PYTHON_MODULE.test(chosen.value as string)) {
    configFile = chosen.value as string;
  } else if (chosen) {
    // gunicorn also takes file:PATH, the same as PATH.
    const file = resolve(cwd, (chosen.value as string).replace(/^file:/, ''));
    if (!(await exists(file))) {
      throw new ConfigError(`--config (from ${chosen.source}): expected an existing file, got ${shown(chosen.value)}`);
    }
    configFile = file;
  } else {
    for (const name of DEFAULT_CONFIG_FILES) {
      if (await exists(resolve(cwd, name))) {
        configFile = resolve(cwd, name);
        break;
      }
    }
  }
  let hooks: string[] = [];
  if (configFile) {
    const chdir = top(upper, 'chdir');
    const workDir = chdir ? resolve(cwd, chdir.value as string) : cwd;
    const python = await resolvePython({ python: (top(upper, 'python')?.value as string | null | undefined) ?? null }, env, workDir, cwd);
    const label = `--config (from ${chosen?.source ?? 'default'})`;
    const file = await fileLayer(configFile, label, python, cwd, env);
    warnings.push(...file.warnings);
    hooks = file.hooks;
    layers.unshift(file);
  }

  const config: Record<string, unknown> = {};
  const sources: Record<string, string> = {};
  for (const entry of VALUE_ENTRIES) {
    const found = top(layers, entry.key);
    if (found) {
      config[entry.key] = found.value;
      sources[entry.key] = found.source;
      continue;
    }
    let source = 'default';
    let raw: string | undefined;
    const ctx: DefaultContext = {
      cwd,
      read(name) {
        const value = env[name];
        if (value === undefined || value === '') return undefined;
        source = `env ${name}`;
        raw = value;
        return value;
      },
    };
    try {
      config[entry.key] = entry.setting.defaultValue(ctx);
    } catch (err) {
      invalid(entry, source, raw, err);
    }
    sources[entry.key] = source;
  }
  if (configFile) config.config = configFile;
  config.hooks = hooks;
  if (config.callable !== null && config.app !== null) config.app = withCallable(config.app as string, config.callable as string);
  // gunicorn: the sync worker with more than one thread is the gthread worker.
  if (config.workerClass === 'sync' && (config.threads as number) > 1) config.workerClass = 'gthread';
  warnings.push(...checkParity(config, sources, hooks));
  if (config.app === null || config.app === undefined) {
    throw new ConfigError(
      `APP_MODULE: expected an app such as module:application (the argument, ${entryOf('app').env ?? ''} ` +
        `or ${SETTINGS.app.file} in the config file), got nothing`,
    );
  }
  return { kind: 'config', config: config as Config, sources: sources as Record<SettingKey, string>, warnings };
}
