/** What the worker pool takes from the settings: at start, and again when HUP re-reads them. */
import type { Config } from '../config/settings';
import { envPairs } from '../config/env';
import { ConfigError } from '../errors';
import { workerLogArgs } from '../log/worker-logging';
import { procName } from './master';
import { stacksDir } from '../workers/stacks';
import type { ArbiterOptions } from '../workers/arbiter';

/** The app the workers import; a ConfigError when none was given. */
export function requireApp(config: Config): string {
  if (!config.app) throw new ConfigError('APP_MODULE: expected an app such as module:application, got nothing');
  return config.app;
}

/** What the pool gets from the server hooks (loaded once, at start), not from the settings. */
export interface HookParts {
  /** Worker arguments and environment for the worker-side hooks, or null without any. */
  worker: { args: string[]; env: Record<string, string> } | null;
  abortGraceMs: number;
  /** worker_int defined: a quick stop sends SIGQUIT first. */
  quitGraceMs?: number;
  lifecycle: ArbiterOptions['lifecycle'];
  /** --preload: the zygote forks the workers. */
  fork?: ArbiterOptions['fork'];
}

export const NO_HOOKS: HookParts = { worker: null, abortGraceMs: 0, lifecycle: undefined };

/**
 * `python`: the interpreter config/python.ts chose; `cwd`: --chdir, resolved; `startDir`: where
 * nodicorn started (log config paths are relative to it).
 */
export function arbiterOptions(config: Config, python: string, cwd: string, hooks: HookParts = NO_HOOKS, startDir: string = process.cwd()): ArbiterOptions {
  return {
    spec: {
      python,
      app: requireApp(config),
      threads: config.threads,
      prefetch: config.prefetch,
      prefetchTimeMs: config.prefetchTime,
      // A front end's share may be one worker while the server has several.
      multiprocess: config.workers > 1 || (typeof config.frontends === 'number' && config.frontends > 1),
      name: procName(config),
      sendfile: config.sendfile,
      captureOutput: config.captureOutput,
      cwd,
      pythonpath: config.pythonpath,
      env: { ...envPairs(config.rawEnv), ...hooks.worker?.env },
      logArgs: workerLogArgs(config, startDir),
      reportModules: config.reload,
      hookArgs: hooks.worker?.args,
      abortGraceMs: hooks.abortGraceMs,
      quitGraceMs: hooks.quitGraceMs,
      stacksDir: stacksDir(),
    },
    lifecycle: hooks.lifecycle,
    fork: hooks.fork,
    workers: config.workers,
    timeoutMs: config.timeout * 1000,
    maxRequests: config.maxRequests,
    maxRequestsJitter: config.maxRequestsJitter,
    recycling: { maxRssMiB: config.workersMaxRss, lifetimeS: config.workersLifetime, lifetimeJitterS: config.workersLifetimeJitter },
    waitForFixes: config.reload,
  };
}

/** The settings arbiterOptions reads: a HUP applies a change to these and to no other. */
export const WORKER_SETTINGS = [
  'app', 'python', 'threads', 'prefetch', 'prefetchTime', 'workers', 'name', 'defaultProcName', 'sendfile', 'captureOutput', 'chdir', 'pythonpath', 'rawEnv',
  'timeout', 'maxRequests', 'maxRequestsJitter', 'workersMaxRss', 'workersLifetime', 'workersLifetimeJitter', 'logConfig', 'logConfigDict', 'logConfigJson',
] as const satisfies ReadonlyArray<keyof Config>;
