import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ENTRIES, SECTIONS } from './settings';
import { renderHelp, renderVersion, shownInHelp, usageOf, wrap } from './help';

const ROOT = join(__dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'nodicorn');

test('--help lists every setting a command line can give, every flag and section', () => {
  const help = renderHelp();
  assert.match(help, /^usage: nodicorn \[OPTIONS\] APP_MODULE\n/);
  for (const entry of ENTRIES.filter(shownInHelp)) {
    assert.ok(help.includes(`  ${usageOf(entry)}`), `help shows ${usageOf(entry)}`);
    for (const flag of entry.setting.flags) assert.ok(help.includes(flag), flag);
  }
  for (const section of SECTIONS) {
    if (ENTRIES.some((e) => e.setting.section === section && shownInHelp(e))) assert.ok(help.includes(`\n${section}:\n`), section);
  }
  for (const line of help.split('\n')) assert.ok(line.length <= 100, `line too long: ${line}`);
});

test('--version reads package.json', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  assert.equal(renderVersion(), `nodicorn (version ${pkg.version})\n`);
});

test('wrap keeps words and indents continuation lines', () => {
  assert.equal(wrap('aaa bbb ccc', 2, 9), 'aaa bbb\n  ccc');
  assert.equal(wrap('aaa bbb ccc', 2, 8), 'aaa\n  bbb\n  ccc');
  assert.equal(wrap('one', 4, 80), 'one');
});

function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  const clean: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('NODICORN_') && k !== 'PORT' && k !== 'WEB_CONCURRENCY') clean[k] = v;
  return spawnSync(process.execPath, [BIN, ...args], { env: { ...clean, ...env }, encoding: 'utf8', cwd: ROOT, timeout: 20_000 });
}

test('bin/nodicorn: --help and --version print to stdout and exit 0', () => {
  const help = run(['--help']);
  assert.equal(help.status, 0);
  assert.equal(help.stdout, renderHelp());
  assert.equal(help.stderr, '');
  const version = run(['-v']);
  assert.equal(version.status, 0);
  assert.equal(version.stdout, renderVersion());
});

test('bin/nodicorn: a bad setting prints one error line and exits 2', () => {
  const r = run(['-w', '0', 'app:x']);
  assert.equal(r.status, 2);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, 'nodicorn: error: --workers (from argv): expected a positive integer, got "0"\n');
  const e = run(['app:x'], { NODICORN_WORKERS: 'abc' });
  assert.equal(e.status, 2);
  assert.equal(e.stderr, 'nodicorn: error: --workers (from env NODICORN_WORKERS): expected a positive integer, got "abc"\n');
  const missing = run([]);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /^nodicorn: error: APP_MODULE: expected an app/);
});
