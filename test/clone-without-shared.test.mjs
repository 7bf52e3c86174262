// The corpus and fuzz tests in a clone without ../shared: each skips with one reason that says
// how to run it, and the suite passes; a NODICORN_CORPUS_DIR that names nothing fails instead.
// The test files are copied into a temporary "clone" whose parent has no shared/ folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { ROOT } from './helpers.mjs';

const CORPUS_TESTS = readdirSync(path.join(ROOT, 'test')).filter((f) => /^(corpus-.*|fuzz)\.test\.mjs$/.test(f));

function cloneWithoutShared() {
  const clone = path.join(mkdtempSync(path.join(tmpdir(), 'nodicorn-noshared-')), 'nodicorn');
  mkdirSync(clone);
  cpSync(path.join(ROOT, 'test'), path.join(clone, 'test'), { recursive: true });
  symlinkSync(path.join(ROOT, 'bin'), path.join(clone, 'bin'));
  symlinkSync(path.join(ROOT, 'dist'), path.join(clone, 'dist'));
  return clone;
}

function runTests(clone, env) {
  const files = CORPUS_TESTS.map((f) => path.join(clone, 'test', f));
  // NODE_TEST_CONTEXT would make the inner runner report to this one instead of printing TAP.
  const { NODICORN_CORPUS_DIR: _dir, NODE_TEST_CONTEXT: _context, ...inherited } = process.env;
  return spawnSync(process.execPath, ['--test', '--test-reporter=tap', ...files], {
    env: { ...inherited, ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
}

test('without ../shared the corpus and fuzz tests skip, one line each saying how to run them', (t) => {
  assert.ok(CORPUS_TESTS.length >= 5, `corpus tests found: ${CORPUS_TESTS}`);
  const clone = cloneWithoutShared();
  t.after(() => rmSync(path.dirname(clone), { recursive: true, force: true }));
  const r = runTests(clone, {});
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const reasons = r.stdout.split('\n').filter((l) => l.includes('# SKIP'));
  assert.equal(reasons.length, CORPUS_TESTS.length, r.stdout);
  for (const line of reasons) {
    assert.match(line, /# SKIP external corpora not found \(.*shared\/corpus\): set NODICORN_CORPUS_DIR to the shared\/corpus folder to run them$/);
  }
  assert.match(r.stdout, new RegExp(`^# skipped ${CORPUS_TESTS.length}$`, 'm'));

  // Named but missing: a failure, not a skip.
  const named = runTests(clone, { NODICORN_CORPUS_DIR: path.join(clone, 'no-such-corpus') });
  assert.notEqual(named.status, 0, named.stdout);
  assert.match(named.stdout + named.stderr, /corpus file .*no-such-corpus.* not readable/);
});
