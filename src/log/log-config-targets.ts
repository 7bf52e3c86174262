/**
 * Where a Python log config (--log-config, --log-config-dict, --log-config-json) sends gunicorn's
 * own loggers, gunicorn.error and gunicorn.access: gunicorn writes its error and access lines
 * through them, so a config that gives them handlers moves those lines. nodicorn's core writes
 * its lines itself, so it asks Python (python -m nodicorn_worker.logconfig, which applies the
 * config as a worker does and reports the two loggers) and follows what maps onto its own logs:
 * a file, stderr for the error log, stdout for the access log, and the logger's level. Anything
 * else (a SysLogHandler, a second handler, a custom class) is said in a warning at startup. A
 * config that does not name the loggers changes nothing, as under gunicorn.
 */
import { execFile } from 'node:child_process';
import { delimiter, join } from 'node:path';
import { ConfigError } from '../errors';
import { LOG_LEVELS, type LogLevel } from './logger';

const PYTHON_DIR = join(__dirname, '..', '..', 'python');
/** Applying a log config takes milliseconds; a handler that hangs must not hang the start. */
const PROBE_TIMEOUT_MS = 60_000;

type Handler = { kind: 'file'; path: string } | { kind: 'stdout' | 'stderr' } | { kind: 'other'; class: string };
export interface ProbedLogger {
  level: string;
  handlers: Handler[];
}
/** The report: only the loggers the config named. */
export type LogConfigReport = Partial<Record<'gunicorn.error' | 'gunicorn.access', ProbedLogger>>;

export interface LogTargets {
  /** Only what the config changes. */
  settings: { errorLogfile?: string; logLevel?: LogLevel; accessLogfile?: string | null };
  warnings: string[];
}

export interface ProbeRun {
  python: string;
  cwd: string;
  pythonpath: string[];
  env: Record<string, string>;
  /** The workers' logging arguments (workerLogArgs). */
  logArgs: string[];
}

const CONFIG_FLAGS = ['--log-config-dict', '--log-config-json', '--log-config'];

/** Runs the probe when a log config is set; null otherwise. A config Python cannot apply is a ConfigError. */
export async function probeLogConfig(run: ProbeRun): Promise<LogConfigReport | null> {
  if (!run.logArgs.some((a) => CONFIG_FLAGS.includes(a))) return null;
  const args = ['-m', 'nodicorn_worker.logconfig', ...run.logArgs];
  for (const dir of run.pythonpath) args.push('--pythonpath', dir);
  const inherited = run.env.PYTHONPATH ?? process.env.PYTHONPATH;
  const env = { ...process.env, ...run.env, PYTHONPATH: inherited ? PYTHON_DIR + delimiter + inherited : PYTHON_DIR, PYTHONDONTWRITEBYTECODE: '1' };
  return new Promise((resolve, reject) => {
    execFile(run.python, args, { cwd: run.cwd, env, timeout: PROBE_TIMEOUT_MS, windowsHide: true }, (err, stdout, stderr) => {
      if (err) {
        // The probe's own refusal is one line naming the flag; anything else, say what failed.
        const said = stderr.trim().split('\n').filter(Boolean);
        reject(new ConfigError(said.length === 1 ? (said[0] as string) : `log config: cannot apply it with ${run.python}: ${said.at(-1) ?? err.message}`));
        return;
      }
      try {
        resolve(JSON.parse(stdout) as LogConfigReport);
      } catch {
        reject(new ConfigError(`log config: unexpected answer from ${run.python}: ${stdout.slice(0, 200)}`));
      }
    });
  });
}

const describe = (h: Handler): string => (h.kind === 'file' ? `a FileHandler on ${h.path}` : h.kind === 'other' ? `a ${h.class}` : `a StreamHandler on ${h.kind}`);

/** What the report means for nodicorn's own error and access logs. `flag` names the config in warnings. */
export function logTargets(report: LogConfigReport | null, flag: string): LogTargets {
  const out: LogTargets = { settings: {}, warnings: [] };
  if (report === null) return out;
  const warn = (logger: string, handler: Handler, goes: string): void => {
    out.warnings.push(`${flag}: nodicorn's own ${logger} lines cannot go to ${describe(handler)} (gunicorn.${logger}); they go to ${goes}`);
  };
  const error = report['gunicorn.error'];
  if (error) {
    if ((LOG_LEVELS as readonly string[]).includes(error.level)) out.settings.logLevel = error.level as LogLevel;
    const target = error.handlers.find((h) => h.kind !== 'other');
    if (target) out.settings.errorLogfile = target.kind === 'file' ? target.path : '-';
    const goes = target?.kind === 'file' ? target.path : target ? 'stderr' : 'the --error-logfile';
    for (const h of error.handlers) if (h !== target || h.kind === 'stdout') warn('error', h, goes);
  }
  const access = report['gunicorn.access'];
  if (access) {
    const severity = LOG_LEVELS.indexOf(access.level as LogLevel);
    const target = access.handlers.find((h) => h.kind !== 'other');
    const on = severity <= LOG_LEVELS.indexOf('info') && target !== undefined;
    out.settings.accessLogfile = on ? (target.kind === 'file' ? target.path : '-') : null;
    const goes = on ? (target.kind === 'file' ? target.path : 'stdout') : 'nowhere (the access log is off)';
    for (const h of access.handlers) if (h !== target || h.kind === 'stderr') warn('access', h, goes);
  }
  return out;
}
