/**
 * --reload: watches the source files the workers loaded (they report them, see MODULES in
 * protocol/frames.ts) and the --reload-extra-file files, and calls back once per burst of
 * changes.
 *
 * Engines: `inotify` (gunicorn's name for it) watches each directory with fs.watch, filtered to
 * the files; `poll` stats each file (fs.watchFile), for mounted volumes where no events come;
 * `auto` is fs.watch, falling back to polling for a directory it cannot watch. Either way an
 * event only makes a file suspect: it counts as changed when its mtime, size or inode differ from
 * what was seen before, so a touch of the metadata or a save that rewrote the same bytes at the
 * same instant does nothing, and an editor's save by rename (a new inode) counts.
 *
 * A Python file created in a directory of watched files (not a dotfile) is a change too, as for
 * gunicorn's inotify engine: the module an app failed to import may be the one just created.
 * Other new files there (editor swap files, logs) are not.
 */
import { type FSWatcher, type Stats, readdirSync, realpathSync, statSync, unwatchFile, watch, watchFile } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { Logger } from '../log/logger';

export type ReloadEngine = 'auto' | 'poll' | 'inotify';

export interface ReloaderOptions {
  engine: ReloadEngine;
  /** A burst of events is one change once this long passes without another. */
  quietMs?: number;
  /** How often `poll` stats each file. */
  pollMs?: number;
}

/** What identifies a version of a file; null when it does not exist. */
type Version = string | null;

function versionOf(path: string): Version {
  let st: Stats;
  try {
    st = statSync(path);
  } catch {
    return null;
  }
  return `${st.mtimeMs}:${st.size}:${st.ino}`;
}

/** A directory holding watched files. */
interface Dir {
  /** The names of the watched files in it. */
  names: Set<string>;
  /** Its Python files when last listed: one not among them is new. */
  sources: Set<string>;
  watcher: FSWatcher | null;
}

/** A Python source file an import could pick up (not an editor's .#lock file). */
function isSource(name: string): boolean {
  return name.endsWith('.py') && !name.startsWith('.');
}

function listSources(dir: string): Set<string> {
  try {
    return new Set(readdirSync(dir).filter(isSource));
  } catch {
    return new Set();
  }
}

export class Reloader {
  private readonly files = new Map<string, Version>();
  private readonly dirs = new Map<string, Dir>();
  /** Paths under fs.watchFile: files, and directories whose listing is polled. */
  private readonly polled = new Set<string>();
  private readonly suspects = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private readonly unchecked = new Set<string>();
  private recheck: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly quietMs: number;
  private readonly pollMs: number;

  constructor(
    private readonly options: ReloaderOptions,
    private readonly onChange: (files: string[]) => void,
    private readonly log: Logger,
  ) {
    this.quietMs = options.quietMs ?? 100;
    this.pollMs = options.pollMs ?? 500;
  }

  /**
   * Starts watching these files (absolute, or relative to the current directory). For a symlink
   * its target is watched too: an edit there makes no event in the link's directory.
   */
  watch(paths: Iterable<string>): void {
    if (this.closed) return;
    for (const raw of paths) {
      const path = resolve(raw);
      this.add(path, versionOf(path));
      try {
        const real = realpathSync(path);
        if (real !== path) this.add(real, versionOf(real));
      } catch {
        // Not there yet: watched by name until it is.
      }
    }
  }

  /** How many files are watched. */
  get size(): number {
    return this.files.size;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    clearTimeout(this.recheck);
    for (const { watcher } of this.dirs.values()) watcher?.close();
    for (const path of this.polled) unwatchFile(path);
    this.dirs.clear();
    this.polled.clear();
  }

  private add(path: string, version: Version): void {
    if (this.files.has(path)) return;
    this.files.set(path, version);
    const dir = this.dir(dirname(path));
    dir.names.add(basename(path));
    if (!dir.watcher) this.poll(path);
    this.checkLater(path);
  }

  /**
   * A change between the first look at `path` and its watch taking hold (a poller takes its
   * first stat later) makes no event: each new file and directory is looked at once more.
   */
  private checkLater(path: string): void {
    this.unchecked.add(path);
    this.recheck ??= setTimeout(() => {
      this.recheck = undefined;
      for (const p of this.unchecked) {
        if (this.dirs.has(p)) this.rescan(p);
        else this.suspect(p);
      }
      this.unchecked.clear();
    }, this.pollMs).unref();
  }

  private dir(path: string): Dir {
    let dir = this.dirs.get(path);
    if (!dir) {
      dir = { names: new Set(), sources: listSources(path), watcher: null };
      this.dirs.set(path, dir);
      if (this.options.engine !== 'poll') dir.watcher = this.openWatcher(path);
      if (!dir.watcher) this.poll(path);
      this.checkLater(path);
    }
    return dir;
  }

  /** fs.watch on `dir`, or null where it cannot be watched (then it and its files are polled). */
  private openWatcher(path: string): FSWatcher | null {
    const fallBack = (err: Error): void => {
      if (this.options.engine === 'inotify') this.log.error(`--reload: cannot watch ${path} (${err.message}); its files are not watched`);
      else this.log.warning(`--reload: cannot watch ${path} (${err.message}); polling its files instead`);
    };
    try {
      const watcher = watch(path, { persistent: false }, (_event, name) => {
        const dir = this.dirs.get(path);
        if (!dir || !name) return;
        const file = name.toString();
        if (dir.names.has(file)) this.suspect(resolve(path, file));
        else if (isSource(file)) this.rescan(path);
      });
      watcher.on('error', (err) => {
        watcher.close();
        const dir = this.dirs.get(path);
        if (!dir || this.closed) return;
        dir.watcher = null;
        fallBack(err);
        this.poll(path);
        for (const name of dir.names) this.poll(resolve(path, name));
      });
      return watcher;
    } catch (err) {
      fallBack(err as Error);
      return null;
    }
  }

  /** Stats `path` every pollMs: a file's change, or a directory's (an entry came or went). */
  private poll(path: string): void {
    if (this.options.engine === 'inotify' || this.polled.has(path) || this.closed) return;
    this.polled.add(path);
    const dir = this.dirs.get(path);
    watchFile(path, { persistent: false, interval: this.pollMs }, () => (dir ? this.rescan(path) : this.suspect(path)));
  }

  /** A Python file that appeared in `path` is watched from now on, and counts as a change. */
  private rescan(path: string): void {
    const dir = this.dirs.get(path);
    if (!dir) return;
    const now = listSources(path);
    for (const name of now) {
      if (dir.sources.has(name) || dir.names.has(name)) continue;
      const file = resolve(path, name);
      this.add(file, null);
      this.suspect(file);
    }
    dir.sources = now;
  }

  private suspect(path: string): void {
    if (this.closed) return;
    this.suspects.add(path);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.settle(), this.quietMs);
  }

  /** The burst is over: the suspects whose version moved are the changes. */
  private settle(): void {
    const changed: string[] = [];
    for (const path of this.suspects) {
      const now = versionOf(path);
      // Gone (between an editor's delete and its write): the next event brings it back.
      if (now === null || now === this.files.get(path)) continue;
      this.files.set(path, now);
      changed.push(path);
    }
    this.suspects.clear();
    if (changed.length > 0) this.onChange(changed);
  }
}

