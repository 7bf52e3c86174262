/**
 * The Python processes beside the workers, from the config: the hook host when the config defines
 * an arbiter-side hook, or with --preload on Unix the zygote (which is the hook host too), and
 * what the workers need for their own hooks.
 */
import type { Config } from '../config/settings';
import { envPairs } from '../config/env';
import type { Logger } from '../log/logger';
import { arbiterOptions, type HookParts } from '../process/pool-options';
import { resolveIdentity } from '../process/privileges';
import { workerArgv, type WorkerProcess } from '../workers/worker';
import { gunicornCfg } from './cfg';
import type { HostSpec } from './host';
import { ABORT_GRACE_MS, ServerHooks, workerHookArgs, type WholeServer } from './server-hooks';
import { Zygote } from './zygote';

export interface PythonSide {
  hooks: ServerHooks | null;
  /** What the worker pool takes from the hooks and the zygote. */
  parts: HookParts;
  /** The server stops: on_exit, then the host (and zygote) go. */
  exiting(): Promise<void>;
  /** The start failed: the host goes, without on_exit. */
  abandon(): Promise<void>;
}

/**
 * `python`: the workers' interpreter; `cwd`: --chdir, resolved; `whole`: in a front end of
 * several, the server its hooks see (its config's -w is its share only).
 */
export async function startPythonSide(config: Config, python: string, cwd: string, log: Logger, whole: WholeServer | null = null): Promise<PythonSide> {
  const host: HostSpec = {
    python,
    cwd,
    pythonpath: config.pythonpath,
    env: envPairs(config.rawEnv),
    config: config.hooks.length > 0 ? config.config : null,
    cfg: whole ? { ...gunicornCfg(config), workers: whole.workers } : gunicornCfg(config),
    serverPid: whole?.pid,
  };
  const parts: HookParts = {
    worker: workerHookArgs(host, config.hooks),
    abortGraceMs: config.hooks.includes('worker_abort') ? ABORT_GRACE_MS : 0,
    quitGraceMs: config.hooks.includes('worker_int') ? ABORT_GRACE_MS : 0,
    lifecycle: undefined,
  };
  let zygote: Zygote | null = null;
  if (config.preloadApp && process.platform === 'win32') log.info('--preload: fork does not exist on Windows, so each worker imports the app');
  else if (config.preloadApp) {
    const { spec } = arbiterOptions(config, python, cwd, parts);
    // The zygote stays as it starts, as gunicorn's master does; each fork becomes --user/--group.
    const owner = resolveIdentity(config.user, config.group);
    zygote = await Zygote.start({ ...host, env: spec.env }, workerArgv(spec), { capture: config.captureOutput, owner, initgroups: config.initgroups }, log);
  }
  let hooks: ServerHooks | null;
  try {
    hooks = await ServerHooks.start(host, config.hooks, log, zygote?.host, whole);
  } catch (err) {
    await zygote?.close();
    throw err;
  }
  parts.lifecycle = hooks?.lifecycle();
  // A ForkedProcess does what a Worker asks of a ChildProcess (hooks/zygote.ts).
  if (zygote) parts.fork = (age) => zygote.fork(age) as Promise<unknown> as Promise<WorkerProcess>;
  return {
    hooks,
    parts,
    async exiting() {
      await hooks?.exiting();
      await zygote?.close();
    },
    async abandon() {
      await hooks?.abandon();
      await zygote?.close();
    },
  };
}
