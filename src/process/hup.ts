/**
 * HUP, as gunicorn's arbiter answers it: the configuration is read again (the same command
 * line, environment and config file), then a new set of workers replaces the old one. What the
 * workers are made of (the app, --threads, --timeout, --max-requests, -e, --python ...) takes
 * the new values, and so does -w when it changed; a change to anything else (the listeners, the logs, the HTTP limits) is
 * named in the log, as it waits for a restart or a USR2. A configuration that no longer reads
 * is logged and the workers restart with the one they had.
 */
import { resolve as resolvePath } from 'node:path';
import { primaryFlag, SETTINGS, type Config } from '../config/settings';
import { choosePython } from '../config/python';
import type { Logger } from '../log/logger';
import type { Arbiter } from '../workers/arbiter';
import { arbiterOptions, WORKER_SETTINGS, type HookParts } from './pool-options';
import { setMasterTitle } from './master';

export interface HupOptions {
  /** The configuration as it reads now; throws when it does not. */
  reread?: () => Promise<Config>;
  arbiter: Arbiter;
  /** The hooks' part of the pool's options (the config's hooks are not loaded again). */
  hooks: HookParts;
  /** The reload itself, once the new options are in (on_reload, then the arbiter's). */
  reload: () => Promise<void>;
  log: Logger;
  /** A changed proc_name renames the process: the master's title by default. */
  retitle?: (config: Config) => void;
}

export function hupHandler(started: Config, options: HupOptions): () => Promise<void> {
  let current = started;
  const { reread, arbiter, hooks, reload, log } = options;
  return async () => {
    log.info('Handling signal: hup');
    if (reread) {
      try {
        const fresh = await reread();
        const cwd = resolvePath(fresh.chdir);
        const python = await choosePython(fresh, process.env, cwd);
        // A -w that was not changed leaves the size TTIN/TTOU set (gunicorn would go back to -w).
        arbiter.configure(arbiterOptions(fresh, python.path, cwd, hooks), fresh.workers !== current.workers);
        // gunicorn's reload renames the master too when proc_name changed.
        (options.retitle ?? setMasterTitle)(fresh);
        const waiting = changedOutsideWorkers(current, fresh);
        if (waiting.length > 0) log.warning(`HUP: changed settings that apply on a restart or USR2, not on HUP: ${waiting.join(', ')}`);
        current = fresh;
      } catch (err) {
        log.error(`HUP: cannot read the configuration again (${(err as Error).message}); the new workers get the one the old had`);
      }
    }
    await reload();
  };
}

/** Settings other than the workers' whose value differs between `before` and `after`, by flag. */
export function changedOutsideWorkers(before: Config, after: Config): string[] {
  const workers = new Set<string>(WORKER_SETTINGS);
  const changed: string[] = [];
  for (const key of Object.keys(after) as Array<keyof Config>) {
    if (workers.has(key) || JSON.stringify(before[key]) === JSON.stringify(after[key])) continue;
    const setting = (SETTINGS as Record<string, Parameters<typeof primaryFlag>[0] | undefined>)[key];
    changed.push(setting ? primaryFlag(setting) : key);
  }
  return changed;
}
