// CLI surface: usage errors exit 2 with one line naming the flag; -v, -h; config files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { APPS, ROOT } from './lib/paths.mjs';
import { runCli, serverFor } from './lib/server.mjs';
import { request } from './lib/http.mjs';
import { bootedPids } from './lib/process.mjs';

const bind = ['--bind', '127.0.0.1:0'];
const lines = (text) => text.split('\n').filter((l) => l.trim() !== '');

for (const [args, named] of [
  [['hello_app:app', '--no-such-flag'], /--no-such-flag/],
  [['hello_app:app', '-w', 'abc'], /(-w|--workers)\b/],
  [['hello_app:app', '--workers', '0'], /--workers\b/],
  [['hello_app:app', '--threads', 'many'], /--threads\b/],
  [['hello_app:app', '--timeout', '-3'], /(-t|--timeout)\b/],
  [['hello_app:app', '--log-level', 'loudest'], /--log-level\b/],
  [['hello_app:app', '--bind', 'localhost:notaport'], /(-b|--bind)\b/],
  [['hello_app:app', '--max-requests', '1.5'], /--max-requests\b/],
  [['hello_app:app', '--workers'], /(-w|--workers)\b/],
  [['hello_app:app', '--forwarder-headers', 'SCRIPT_NAME,CONTENT_LENGTH'], /--forwarder-headers\b.*CONTENT_LENGTH/],
]) {
  test(`usage error: ${args.slice(1).join(' ')} -> exit 2, one line naming the flag`, async () => {
    const r = await runCli([...args, '--chdir', APPS, ...(args.includes('--bind') ? [] : bind)], { timeout: 15_000 });
    assert.equal(r.code, 2, `exit ${r.code}\n${r.stderr}`);
    const err = lines(r.stderr);
    assert.equal(err.length, 1, `expected one stderr line, got:\n${r.stderr}`);
    assert.match(err[0], named);
  });
}

test('no app spec -> exit 2', async () => {
  const r = await runCli([...bind], { timeout: 15_000 });
  assert.equal(r.code, 2, r.stderr);
  assert.ok(lines(r.stderr).length >= 1);
});

test('-v / --version prints the package version and exits 0', async () => {
  const { version } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  for (const flag of ['-v', '--version']) {
    const r = await runCli([flag], { timeout: 15_000, python: false });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.includes(version), r.stdout);
  }
});

test('-h / --help lists the gunicorn flags and exits 0', async () => {
  const r = await runCli(['--help'], { timeout: 15_000, python: false });
  assert.equal(r.code, 0, r.stderr);
  for (const flag of ['--bind', '--workers', '--threads', '--timeout', '--graceful-timeout', '--keep-alive', '--backlog',
    '--chdir', '--pythonpath', '--access-logfile', '--access-logformat', '--error-logfile', '--log-level',
    '--max-requests', '--max-requests-jitter', '--python', '--config']) {
    assert.ok(r.stdout.includes(flag), `--help mentions ${flag}`);
  }
  const short = await runCli(['-h'], { timeout: 15_000, python: false });
  assert.equal(short.code, 0);
  assert.equal(short.stdout, r.stdout);
});

test('-c gunicorn-style Python config file', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'nodicorn-conf-'));
  const conf = path.join(dir, 'gunicorn.conf.py');
  writeFileSync(conf, 'import multiprocessing\nworkers = 3\nthreads = 2\ntimeout = 30\n');
  const server = await serverFor(t, ['echo_app:app', '--chdir', APPS, '-c', conf], { waitWorkers: 3 });
  assert.equal(bootedPids(server).length, 3);
  const doc = (await request(server.port, { path: '/' })).json();
  assert.equal(doc.wsgi.multithread, true, 'threads = 2 from the file');
  assert.equal(doc.wsgi.multiprocess, true);
});

test('-c config: the command line wins over the file', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'nodicorn-conf-'));
  const conf = path.join(dir, 'conf.py');
  writeFileSync(conf, 'workers = 3\n');
  const server = await serverFor(t, ['echo_app:app', '--chdir', APPS, '-c', conf, '-w', '1'], { waitWorkers: 1 });
  await request(server.port, { path: '/' });
  assert.equal(bootedPids(server).length, 1);
});

test('-c config with a bad value -> exit 2 naming the setting', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'nodicorn-conf-'));
  const conf = path.join(dir, 'conf.py');
  writeFileSync(conf, 'workers = "lots"\n');
  const r = await runCli(['echo_app:app', '--chdir', APPS, '-c', conf, ...bind], { timeout: 30_000 });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /workers/);
});

test('-c with a missing file -> exit 2', async () => {
  const r = await runCli(['echo_app:app', '--chdir', APPS, '-c', '/nonexistent/nodicorn.conf.py', ...bind], { timeout: 30_000 });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /(-c|--config)\b/);
});
