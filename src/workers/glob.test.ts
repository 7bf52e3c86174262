import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expandGlob, isGlobPattern } from './glob';

function tree(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'nodicorn-glob-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const file of ['a.html', 'b.html', 'c.txt', '.hidden.html', 'sub/d.html', 'sub/deeper/e.html', 'sub/deeper/f.txt', '.git/g.html', 'x1.cfg', 'x2.cfg', 'xa.cfg']) {
    const path = join(dir, file);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, '');
  }
  return dir;
}

const rel = (dir: string, paths: string[]): string[] => paths.map((p) => p.slice(dir.length + 1));

test('which entries are patterns: *, ? and [ as glob reads them', () => {
  for (const p of ['*.html', 'a?.txt', 'x[12].cfg', 'templates/**/*.html']) assert.equal(isGlobPattern(p), true, p);
  for (const p of ['templates/base.html', '/etc/app.conf', 'a-b_c.txt']) assert.equal(isGlobPattern(p), false, p);
});

test('* and ? stay within a name and skip dotfiles; classes and negated classes', (t) => {
  const dir = tree(t);
  assert.deepEqual(rel(dir, expandGlob('*.html', dir)), ['a.html', 'b.html']);
  assert.deepEqual(rel(dir, expandGlob('?.txt', dir)), ['c.txt']);
  assert.deepEqual(rel(dir, expandGlob('x[12].cfg', dir)), ['x1.cfg', 'x2.cfg']);
  assert.deepEqual(rel(dir, expandGlob('x[!12].cfg', dir)), ['xa.cfg']);
  assert.deepEqual(rel(dir, expandGlob('.*.html', dir)), ['.hidden.html']);
  assert.deepEqual(rel(dir, expandGlob('*/*.html', dir)), ['sub/d.html']);
});

test('** is any depth, this directory included, never into dot directories', (t) => {
  const dir = tree(t);
  assert.deepEqual(rel(dir, expandGlob('**/*.html', dir)), ['a.html', 'b.html', 'sub/d.html', 'sub/deeper/e.html']);
  assert.deepEqual(rel(dir, expandGlob(join(dir, 'sub', '**'), '/')), ['sub/d.html', 'sub/deeper/e.html', 'sub/deeper/f.txt']);
  assert.deepEqual(expandGlob('nothing/**/*.py', dir), []);
});
