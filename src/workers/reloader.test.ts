import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../log/logger';
import { Reloader, type ReloadEngine } from './reloader';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function quietLog(lines: string[] = []): Logger {
  const keep = (message: string): void => void lines.push(message);
  return { debug: keep, info: keep, warning: keep, error: keep, critical: keep, isEnabled: () => true, flush: async () => {}, close: async () => {}, reopen: () => null, passLines: () => {} };
}

/** A temp dir with app.py, other.py and an unwatched neighbour; a Reloader watching the first two. */
function setup(t: { after(fn: () => void): void }, engine: ReloadEngine) {
  const dir = mkdtempSync(join(tmpdir(), 'nodicorn-reloader-'));
  const app = join(dir, 'app.py');
  const other = join(dir, 'other.py');
  writeFileSync(app, 'A = 1\n');
  writeFileSync(other, 'B = 1\n');
  writeFileSync(join(dir, 'notes.txt'), 'x\n');
  writeFileSync(join(dir, 'scratch.py'), 'not imported\n');
  const calls: string[][] = [];
  const reloader = new Reloader({ engine, pollMs: 100, quietMs: 100 }, (files) => calls.push(files), quietLog());
  reloader.watch([app, other]);
  t.after(() => {
    reloader.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, app, other, calls };
}

async function waitFor(check: () => boolean, ms = 8_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await sleep(20);
}

for (const engine of ['inotify', 'poll', 'auto'] as const) {
  test(`${engine}: a burst of writes to a watched file is one change`, async (t) => {
    const { app, calls } = setup(t, engine);
    // Past the file system's mtime granularity, so the version surely moves.
    await sleep(50);
    for (let i = 0; i < 5; i++) writeFileSync(app, `A = ${i + 2}\n`);
    await waitFor(() => calls.length > 0);
    await sleep(400);
    assert.deepEqual(calls, [[app]]);
  });

  test(`${engine}: other files next to the watched ones, and metadata changes, do nothing`, async (t) => {
    const { dir, other, calls } = setup(t, engine);
    writeFileSync(join(dir, 'notes.txt'), 'changed\n');
    writeFileSync(join(dir, 'scratch.py'), 'existed before\n');
    writeFileSync(join(dir, '.#other.py'), 'an editor lock file\n');
    chmodSync(other, 0o600);
    await sleep(700);
    assert.deepEqual(calls, []);
  });

  test(`${engine}: a new Python file next to the watched ones is a change, and is watched from then on`, async (t) => {
    const { dir, calls } = setup(t, engine);
    const created = join(dir, 'new_module.py');
    writeFileSync(created, 'C = 1\n');
    await waitFor(() => calls.length > 0);
    assert.deepEqual(calls, [[created]]);
    await sleep(50);
    writeFileSync(created, 'C = 2\n');
    await waitFor(() => calls.length > 1);
    assert.deepEqual(calls, [[created], [created]]);
  });

  test(`${engine}: an editor's save by rename counts`, async (t) => {
    const { dir, other, calls } = setup(t, engine);
    writeFileSync(join(dir, '.other.py.swp'), 'B = 2\n');
    renameSync(join(dir, '.other.py.swp'), other);
    await waitFor(() => calls.length > 0);
    assert.deepEqual(calls, [[other]]);
  });
}
