/**
 * What a master does the same way with one front end (itself) or several: the --bind addresses,
 * "localhost" expanded, a stale unix socket removed before binding, the logs reopened on USR1.
 */
import { lookup } from 'node:dns/promises';
import { existsSync, lstatSync, unlinkSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { ConfigError } from '../errors';
import { parseBind, type BindAddress } from '../config/address';
import { envPairs } from '../config/env';
import { choosePython, type PythonChoice } from '../config/python';
import type { Config } from '../config/settings';
import type { Logger } from '../log/logger';
import type { AccessLog } from '../log/access';
import { openLogs, type LogSettings, type ServerLogs } from '../log/setup';
import { logConfigTargets, workerLogArgs } from '../log/worker-logging';
import { requireApp } from './pool-options';
import type { Inherited } from './reexec';

export interface Beginning {
  /** --chdir, resolved. */
  cwd: string;
  python: PythonChoice;
  logs: ServerLogs;
  /** Where to listen: --bind, or the fds a master started by USR2 inherited. */
  addresses: BindAddress[];
}

/**
 * What every server process starts from: the workers' interpreter chosen, the logs open (where
 * a --log-config moves gunicorn's own loggers, nodicorn's lines follow; a front end's go to
 * `relay`), an app required, and the addresses checked.
 */
export async function begin(config: Config, inherited: Inherited | null, relay?: LogSettings['relay']): Promise<Beginning> {
  const cwd = resolvePath(config.chdir);
  const python = await choosePython(config, process.env, cwd);
  const logArgs = workerLogArgs(config, process.cwd());
  const targets = await logConfigTargets({ python: python.path, cwd, pythonpath: config.pythonpath, env: envPairs(config.rawEnv), logArgs });
  const logs = await openLogs({ ...config, ...targets.settings, relay });
  for (const warning of targets.warnings) logs.log.warning(warning);
  requireApp(config);
  const bound = bindAddresses(config.bind);
  const addresses: BindAddress[] = inherited ? inherited.fds.map((fd) => ({ kind: 'fd', fd })) : bound;
  return { cwd, python, logs, addresses };
}

/** --bind, parsed (a bad one is a ConfigError naming it). */
export function bindAddresses(bind: readonly string[]): BindAddress[] {
  return bind.map((spec) => {
    const address = parseBind(spec);
    if (!address) throw new ConfigError(`--bind: expected HOST:PORT, [HOST]:PORT, :PORT or unix:PATH, got "${spec}"`);
    return address;
  });
}

/** "localhost" means every loopback address it resolves to, as a browser tries both. */
export async function expandLocalhost(addresses: BindAddress[]): Promise<BindAddress[]> {
  const out: BindAddress[] = [];
  for (const a of addresses) {
    if (a.kind === 'tcp' && a.host === 'localhost') {
      const found = await lookup('localhost', { all: true }).catch(() => [{ address: '127.0.0.1', family: 4 }]);
      const hosts = [...new Set(found.map((f) => f.address))];
      for (const host of hosts) out.push({ kind: 'tcp', host, port: a.port });
    } else out.push(a);
  }
  return out;
}

/** A socket file left by a server that died is in the way of binding its path again. */
export function removeStaleSocket(path: string): void {
  if (existsSync(path) && lstatSync(path).isSocket()) unlinkSync(path);
}

/** USR1: the log files are opened again, after a rotation renamed them away. */
export function reopenLogs(log: Logger, access: AccessLog | null): void {
  const failures = [['error log', log.reopen()], ['access log', access?.reopen() ?? null]] as const;
  // Logged after: the line belongs in the new file, where the operator looks.
  log.info('Handling signal: usr1: reopened the log files');
  for (const [what, err] of failures) if (err) log.error(`cannot reopen the ${what}: ${err.message}`);
}

export function version(): string {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  return (require('../../package.json') as { version: string }).version;
}
