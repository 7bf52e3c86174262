// The tutorial's production recipe end to end: Django's admin (examples/django_project,
// settings_admin, sqlite in a temp dir) behind a real nginx (examples/django_project/deploy/
// nginx.conf, its workers running as another user when the test runs as root), talking to the
// app server on a unix socket. The same deployment files run under gunicorn and under nodicorn
// and must give the same results: the login page renders, a CSRF-protected login POST logs in,
// and a POST without the token is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { APPS, CLI, PYTHON, startListening } from './helpers.mjs';
import { EXPECTED, ROOT_USER, adminDatabase, nginxSkip, serverArgs, startNginx, walkAdmin } from './lib/nginx-deploy.mjs';

const PY = PYTHON ?? 'python3';
const GUNICORN = path.join(path.dirname(PY), 'gunicorn');

if (nginxSkip) console.log(`# deploy-nginx: skipped: ${nginxSkip}`);

test('Django admin behind nginx on a unix socket: the same results under gunicorn and nodicorn', { skip: nginxSkip, timeout: 300_000 }, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'nodicorn-deploy-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // As /run/<app>/ would be: nginx's user must reach the socket's directory.
  chmodSync(dir, 0o755);
  const env = adminDatabase(dir);

  const results = {};
  for (const name of ['gunicorn', 'nodicorn']) {
    const socket = path.join(dir, `${name}.sock`);
    const nginx = await startNginx(t, path.join(dir, name === 'gunicorn' ? 'g' : 'n'), socket);
    const server = name === 'gunicorn'
      ? await startListening(GUNICORN, serverArgs(socket), { env })
      : await startListening(process.execPath, [CLI, ...serverArgs(socket), '--python', PY], { env });
    t.after(() => server.kill());
    results[name] = await walkAdmin(nginx.base);
    assert.deepEqual(results[name], EXPECTED, `${name} behind nginx; nginx's error log:\n${nginx.errorLog()}`);
    assert.equal((await server.stop()).code, 0);
  }
  assert.deepEqual(results.nodicorn, results.gunicorn);
});

test("a socket nginx's user may not connect to gives 502: the recipe depends on the default --umask 0", { skip: nginxSkip || (!ROOT_USER && 'runs as root only: nginx switches its workers to another user only then'), timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'nodicorn-deploy-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  chmodSync(dir, 0o755);
  const socket = path.join(dir, 'app.sock');
  const nginx = await startNginx(t, path.join(dir, 'n'), socket);
  const server = await startListening(process.execPath, [CLI, 'hello_app:app', '--chdir', APPS, '--bind', `unix:${socket}`, '--umask', '0o022', '--python', PY]);
  t.after(() => server.kill());
  const res = await fetch(`${nginx.base}/`);
  assert.equal(res.status, 502);
  assert.match(nginx.errorLog(), /connect\(\) to unix:.* failed \(13: Permission denied\)/);
});
