/**
 * What the Python workers need to set up Python's logging as gunicorn's master does before it
 * forks them (python/nodicorn_worker/logconfig.py does the setting up): the --log-level, and at
 * most one of --log-config-dict (which wins, as under gunicorn), --log-config-json, --log-config.
 * Files are checked here, so a missing one stops the start with one line.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from '../errors';
import type { LogFormat, LogLevel } from './logger';
import { logTargets, probeLogConfig, type LogTargets, type ProbeRun } from './log-config-targets';

export interface WorkerLogSettings {
  logLevel: LogLevel;
  /** Without --capture-output the worker writes gunicorn.error's lines itself: to this file, or stderr. */
  errorLogfile: string;
  captureOutput: boolean;
  logFormat: LogFormat;
  logConfig: string | null;
  logConfigDict: Record<string, unknown> | null;
  logConfigJson: string | null;
}

/** The worker's command-line arguments; paths resolved against `cwd` (where nodicorn started). */
export function workerLogArgs(settings: WorkerLogSettings, cwd: string): string[] {
  const args = ['--log-level', settings.logLevel];
  if (settings.logFormat === 'json') args.push('--log-format', 'json');
  if (settings.captureOutput) args.push('--capture-output');
  else if (settings.errorLogfile !== '-') args.push('--error-logfile', resolve(cwd, settings.errorLogfile));
  const dict = settings.logConfigDict;
  if (dict !== null && Object.keys(dict).length > 0) return [...args, '--log-config-dict', JSON.stringify(dict)];
  if (settings.logConfigJson) return [...args, '--log-config-json', existing('--log-config-json', settings.logConfigJson, cwd)];
  if (settings.logConfig) return [...args, '--log-config', existing('--log-config', settings.logConfig, cwd)];
  return args;
}

function existing(flag: string, path: string, cwd: string): string {
  const full = resolve(cwd, path);
  if (!existsSync(full)) throw new ConfigError(`${flag}: log config "${path}" not found`);
  return full;
}

/** Where nodicorn's own lines go under the log config the workers get (see log-config-targets.ts). */
export async function logConfigTargets(run: ProbeRun): Promise<LogTargets> {
  const flag = run.logArgs.find((a) => a.startsWith('--log-config')) ?? '--log-config';
  return logTargets(await probeLogConfig(run), flag);
}
