import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LAUNCHER_PYTHON_ENV, choosePython, resolvePython } from './python';

const BIN = process.platform === 'win32' ? ['Scripts', 'python.exe'] : ['bin', 'python'];

function fakeExe(file: string): string {
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, '#!/bin/sh\n');
  chmodSync(file, 0o755);
  return file;
}

test('choosePython: --python, launcher, $VIRTUAL_ENV, .venv/venv in the start dir, then in --chdir, then PATH', async () => {
  const root = mkdtempSync(join(tmpdir(), 'nodicorn-python-'));
  const start = join(root, 'start');
  const chdir = join(root, 'start', 'src');
  const active = fakeExe(join(root, 'active', ...BIN));
  const launcher = fakeExe(join(root, 'installed', ...BIN));
  const onPath = fakeExe(join(root, 'path', 'python3'));
  const env = { PATH: join(root, 'path') };
  const choose = (python: string | null, extra: NodeJS.ProcessEnv = {}) => choosePython({ python }, { ...env, ...extra }, chdir, start);

  // Nothing on disk but PATH: python3 from PATH; with no PATH either, the bare name.
  assert.deepEqual(await choose(null), { path: onPath, reason: 'python3 on PATH' });
  assert.deepEqual(await choosePython({ python: null }, { PATH: join(root, 'nowhere') }, chdir, start), {
    path: 'python3',
    reason: 'no virtualenv and no python3 or python on PATH found',
  });
  // Each venv place, added from the lowest priority up, wins over what came before.
  const chdirVenv = fakeExe(join(chdir, 'venv', ...BIN));
  assert.deepEqual(await choose(null), { path: chdirVenv, reason: 'venv in --chdir' });
  const chdirDotVenv = fakeExe(join(chdir, '.venv', ...BIN));
  assert.deepEqual(await choose(null), { path: chdirDotVenv, reason: '.venv in --chdir' });
  const startVenv = fakeExe(join(start, 'venv', ...BIN));
  assert.deepEqual(await choose(null), { path: startVenv, reason: 'venv in the directory nodicorn started in' });
  const startDotVenv = fakeExe(join(start, '.venv', ...BIN));
  assert.deepEqual(await choose(null), { path: startDotVenv, reason: '.venv in the directory nodicorn started in' });
  assert.deepEqual(await choose(null, { VIRTUAL_ENV: join(root, 'active') }), { path: active, reason: 'the active virtualenv, $VIRTUAL_ENV' });
  // A $VIRTUAL_ENV or launcher interpreter that does not exist is passed over.
  assert.equal((await choose(null, { VIRTUAL_ENV: join(root, 'gone'), [LAUNCHER_PYTHON_ENV]: join(root, 'gone', 'python') })).path, startDotVenv);
  assert.deepEqual(await choose(null, { VIRTUAL_ENV: join(root, 'active'), [LAUNCHER_PYTHON_ENV]: launcher }), {
    path: launcher,
    reason: 'the Python nodicorn was installed into',
  });
  assert.deepEqual(await choose('/opt/py', { VIRTUAL_ENV: join(root, 'active'), [LAUNCHER_PYTHON_ENV]: launcher }), { path: '/opt/py', reason: '--python' });
  // A relative --python is read from where nodicorn started, not from --chdir; a bare name stays a name.
  assert.equal(await resolvePython({ python: 'active/bin/python' }, env, chdir, root), join(root, 'active', 'bin', 'python'));
  assert.equal(await resolvePython({ python: 'python3.11' }, env, chdir, root), 'python3.11');
});

test('choosePython: --chdir equal to the start directory is looked at once', async () => {
  const root = mkdtempSync(join(tmpdir(), 'nodicorn-python-'));
  const venv = fakeExe(join(root, 'venv', ...BIN));
  assert.deepEqual(await choosePython({ python: null }, { PATH: '' }, root, root), { path: venv, reason: 'venv in the directory nodicorn started in' });
});
