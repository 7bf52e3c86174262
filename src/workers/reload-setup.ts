/**
 * --reload's wiring: the files the workers report and the --reload-extra-file entries are
 * watched, and a change reloads the pool (a generation swap, see Arbiter.reload).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from '../errors';
import type { Logger } from '../log/logger';
import { expandGlob, isGlobPattern } from './glob';
import { Reloader, type ReloadEngine } from './reloader';

/** How often patterns are expanded again, so files created since are watched (as gunicorn does). */
const PATTERN_MS = 1_000;

export interface ReloadSettings {
  engine: ReloadEngine;
  /** --reload-extra-file: paths or glob patterns, relative to `cwd`. */
  extraFiles: readonly string[];
  /** The directory nodicorn started in (not --chdir), as gunicorn reads extra files from. */
  cwd: string;
  preload: boolean;
}

export interface ReloadPool {
  reload(): void;
  onModules(listener: (files: string[]) => void): void;
}

/** Starts watching; throws a ConfigError for an extra file (not a pattern) that does not exist. */
export function startReloader(pool: ReloadPool, settings: ReloadSettings, log: Logger): { close(): void } {
  const files: string[] = [];
  const patterns: string[] = [];
  for (const entry of settings.extraFiles) {
    const full = resolve(settings.cwd, entry);
    if (isGlobPattern(entry)) patterns.push(full);
    else if (existsSync(full)) files.push(full);
    else throw new ConfigError(`--reload-extra-file: expected an existing file or a glob pattern, got "${entry}"`);
  }
  log.warning('Reloader is on. Use in development only!');
  if (settings.preload) log.warning('--reload is incompatible with --preload (as in gunicorn): the code the preloaded app imported is not reloaded');
  const reloader = new Reloader(
    { engine: settings.engine },
    (changed) => {
      log.info(`Reloading: ${changed.join(', ')} modified`);
      pool.reload();
    },
    log,
  );
  reloader.watch(files);
  pool.onModules((loaded) => reloader.watch(loaded));
  for (const pattern of patterns) {
    const matches = expandGlob(pattern, settings.cwd);
    if (matches.length === 0) log.warning(`--reload-extra-file: pattern ${pattern} currently matches no files`);
    reloader.watch(matches);
  }
  // A file a pattern comes to match is watched from then on: its first edit reloads, not its creation.
  const rescan = patterns.length > 0 ? setInterval(() => patterns.forEach((p) => reloader.watch(expandGlob(p, settings.cwd))), PATTERN_MS).unref() : undefined;
  return {
    close() {
      clearInterval(rescan);
      reloader.close();
    },
  };
}
