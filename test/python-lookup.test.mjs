// Which interpreter runs the workers when --python is not given: the pip launcher's, then
// $VIRTUAL_ENV, then .venv and venv where nodicorn was started, then in --chdir. Each fake venv's
// bin/python is a symlink to the test interpreter, so the app's sys.executable names the venv
// the worker really ran in, and the startup log line says which one was chosen and why.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { PYTHON, getText, serverFor } from './helpers.mjs';

const realPython = (() => {
  const r = spawnSync(PYTHON ?? 'python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
})();

const root = mkdtempSync(path.join(tmpdir(), 'nodicorn-lookup-'));
const start = path.join(root, 'project');
const chdir = path.join(start, 'src');
mkdirSync(chdir, { recursive: true });
writeFileSync(
  path.join(chdir, 'which_app.py'),
  'import sys\n\ndef app(environ, start_response):\n' +
    "    start_response('200 OK', [('Content-Type', 'text/plain')])\n" +
    '    return [sys.executable.encode()]\n',
);

function fakeVenv(dir) {
  mkdirSync(path.join(dir, 'bin'), { recursive: true });
  const python = path.join(dir, 'bin', 'python');
  symlinkSync(realPython, python);
  return python;
}

/** Serves which_app from `start` with --chdir src and no --python; returns the worker's python and the log line. */
async function chosen(t, env = {}) {
  const server = await serverFor(t, ['which_app:app', '--chdir', 'src'], {
    cwd: start,
    python: false,
    env: { VIRTUAL_ENV: '', NODICORN_PYTHON: '', NODICORN_LAUNCHER_PYTHON: '', ...env },
  });
  const [line] = await server.waitStderr(/Workers run .*/);
  const executable = await getText(server.port, '/');
  await server.kill();
  return { executable, line };
}

test('the interpreter is looked up in the documented order, and the choice is logged', async (t) => {
  if (process.platform === 'win32') return t.skip('fake venvs are POSIX bin/python symlinks');
  const inChdir = fakeVenv(path.join(chdir, 'venv'));
  let got = await chosen(t);
  assert.equal(got.executable, inChdir);
  assert.match(got.line, new RegExp(`Workers run ${inChdir} \\(venv in --chdir\\)`));

  const dotInChdir = fakeVenv(path.join(chdir, '.venv'));
  assert.equal((await chosen(t)).executable, dotInChdir);

  // The project root, where the command is typed, wins over --chdir (issue: `--chdir src` ran the wrong Python).
  const inStart = fakeVenv(path.join(start, '.venv'));
  got = await chosen(t);
  assert.equal(got.executable, inStart);
  assert.match(got.line, /\(\.venv in the directory nodicorn started in\)/);

  const active = fakeVenv(path.join(root, 'active'));
  got = await chosen(t, { VIRTUAL_ENV: path.join(root, 'active') });
  assert.equal(got.executable, active);
  assert.match(got.line, /\(the active virtualenv, \$VIRTUAL_ENV\)/);

  const installed = fakeVenv(path.join(root, 'installed'));
  got = await chosen(t, { VIRTUAL_ENV: path.join(root, 'active'), NODICORN_LAUNCHER_PYTHON: installed });
  assert.equal(got.executable, installed);
  assert.match(got.line, /\(the Python nodicorn was installed into\)/);

  got = await chosen(t, { VIRTUAL_ENV: path.join(root, 'active'), NODICORN_LAUNCHER_PYTHON: installed, NODICORN_PYTHON: inChdir });
  assert.equal(got.executable, inChdir);
  assert.match(got.line, /\(--python\)/);
});

test.after(() => rmSync(root, { recursive: true, force: true }));
