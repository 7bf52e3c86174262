// An app that cannot be loaded stops the server with exit code 4 and a traceback, instead of
// respawning workers forever.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { APPS } from './lib/paths.mjs';
import { runCli } from './lib/server.mjs';

const bind = ['--bind', '127.0.0.1:0'];
const booted = (stderr) => (stderr.match(/Booting worker with pid/g) ?? []).length;

test('import error in the app module -> exit 4, traceback on stderr', async () => {
  const r = await runCli(['import_error:app', '--chdir', APPS, '-w', '2', ...bind], { timeout: 30_000 });
  assert.equal(r.code, 4, r.stderr);
  assert.match(r.stderr, /Traceback \(most recent call last\)/);
  assert.match(r.stderr, /ModuleNotFoundError/);
  assert.match(r.stderr, /nodicorn_test_module_that_does_not_exist/);
  assert.ok(booted(r.stderr) <= 4, `${booted(r.stderr)} workers booted: the server must not respawn forever`);
});

test('unknown module -> exit 4', async () => {
  const r = await runCli(['no_such_app_module_xyz:app', '--chdir', APPS, ...bind]);
  assert.equal(r.code, 4, r.stderr);
  assert.match(r.stderr, /no_such_app_module_xyz/);
});

test('missing attribute -> exit 4', async () => {
  const r = await runCli(['hello_app:no_such_attribute', '--chdir', APPS, ...bind]);
  assert.equal(r.code, 4, r.stderr);
  assert.match(r.stderr, /no_such_attribute/);
});

test('missing app file -> exit 4', async () => {
  const r = await runCli(['does/not/exist.py', '--chdir', APPS, ...bind]);
  assert.equal(r.code, 4, r.stderr);
  assert.match(r.stderr, /exist\.py/);
});
