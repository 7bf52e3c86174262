// The access log: off by default, gunicorn's default format on stdout with --access-logfile -,
// custom --access-logformat, or a file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { APPS } from './lib/paths.mjs';
import { serverFor } from './lib/server.mjs';
import { request } from './lib/http.mjs';
import { sleep } from './lib/wait.mjs';

// %(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"
const TIME = String.raw`\[\d{2}/(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\]`;

test('--access-logfile -: gunicorn default format on stdout', async (t) => {
  const server = await serverFor(t, ['hello_app:app', '--chdir', APPS, '--access-logfile', '-']);
  const res = await request(server.port, {
    path: '/greet?x=1&y=%20', headers: [['Referer', 'http://ref.example/page'], ['User-Agent', 'nodicorn-test/1.0 (raw)']],
  });
  assert.equal(res.status, 200);
  const m = await server.waitStdout(/GET \/greet/, 5_000);
  assert.match(m.input, new RegExp(String.raw`^127\.0\.0\.1 - - ${TIME} "GET /greet\?x=1&y=%20 HTTP/1\.1" 200 5 "http://ref\.example/page" "nodicorn-test/1\.0 \(raw\)"$`));

  await request(server.port, { path: '/no-agent', headers: [] });
  const m2 = await server.waitStdout(/GET \/no-agent/, 5_000);
  assert.match(m2.input, new RegExp(String.raw`^127\.0\.0\.1 - - ${TIME} "GET /no-agent HTTP/1\.1" 200 5 "-" "-"$`));

  await request(server.port, { method: 'POST', path: '/p', body: 'abc', version: '1.0' });
  const m3 = await server.waitStdout(/POST \/p/, 5_000);
  assert.match(m3.input, /"POST \/p HTTP\/1\.0" 200 5 /);
  assert.ok(!server.stderrLines.some((l) => l.includes('/greet')), 'access lines go to the access log only');
});

test('--access-logformat with atoms', async (t) => {
  const server = await serverFor(t, ['hello_app:app', '--chdir', APPS, '--access-logfile', '-',
    '--access-logformat', '%(m)s %(U)s %(q)s %(s)s %(H)s %({x-custom}i)s %(B)s']);
  await request(server.port, { path: '/atoms?k=v', headers: [['X-Custom', 'present']] });
  const m = await server.waitStdout(/^GET \/atoms/, 5_000);
  assert.equal(m.input, 'GET /atoms k=v 200 HTTP/1.1 present 5');
});

test('--access-logfile PATH writes the file; no access log by default', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'nodicorn-access-'));
  const file = path.join(dir, 'access.log');
  const server = await serverFor(t, ['hello_app:app', '--chdir', APPS, '--access-logfile', file]);
  await request(server.port, { path: '/to-file' });
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline && !(existsSync(file) && readFileSync(file, 'utf8').includes('/to-file'))) await sleep(50);
  assert.match(readFileSync(file, 'utf8'), /"GET \/to-file HTTP\/1\.1" 200 5 /);

  const quiet = await serverFor(t, ['hello_app:app', '--chdir', APPS]);
  await request(quiet.port, { path: '/unlogged' });
  await sleep(300);
  assert.ok(!quiet.stdoutLines.some((l) => l.includes('/unlogged')));
  assert.ok(!quiet.stderrLines.some((l) => l.includes('/unlogged')));
});
