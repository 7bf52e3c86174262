// What the hook and preload fixtures leave behind (test/fixtures/hooks): every_hook.conf.py's
// JSON line per hook call ($HOOK_RECORD) and preload_app.py's importing pids ($IMPORT_RECORD),
// and the temp dirs the tests keep them in.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT } from './paths.mjs';

export const HOOKS = path.join(ROOT, 'test', 'fixtures', 'hooks');

/** A temp dir removed when test `t` ends. */
export function tempDir(t, prefix = 'nodicorn-hooks-') {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The hook calls recorded so far: [{hook, pid, ppid, ...}], in call order. */
export function hookRecords(file) {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

/** The pids that imported preload_app so far. */
export function importPids(file) {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number) : [];
}
