// The master's other signals, as gunicorn's arbiter answers them: USR1 reopens the log files
// (and never opens Node's inspector), QUIT stops at once, HUP replaces the workers, TTIN/TTOU
// resize the pool, WINCH is ignored when not daemonized.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { APPS, bootedPids, cliArgs, isAlive, request, serverFor, sleep, waitUntil } from './helpers.mjs';

const INSPECTOR_PORT = 9229;

/** 'refused', 'open' or 'timeout'. */
function probe(port) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    const timer = setTimeout(() => { s.destroy(); resolve('timeout'); }, 2_000);
    s.once('connect', () => { clearTimeout(timer); s.destroy(); resolve('open'); });
    s.once('error', (err) => { clearTimeout(timer); resolve(err.code === 'ECONNREFUSED' ? 'refused' : err.code); });
  });
}

function tempDir(t) {
  const dir = mkdtempSync(path.join(tmpdir(), 'nodicorn-signals-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const read = (file) => readFileSync(file, 'utf8');
const readOr = (file) => { try { return read(file); } catch { return ''; } };

/** The CLI with its error log in a file: the port comes from that file's Listening line. */
async function serverLoggingTo(t, args, errors) {
  const proc = spawn(process.execPath, cliArgs([...args, '--bind', '127.0.0.1:0', '--error-logfile', errors]), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  t.after(() => { proc.kill('SIGKILL'); return exited; });
  const listening = await waitUntil(() => /Listening at: http:\/\/127\.0\.0\.1:(\d+)/.exec(readOr(errors)), 30_000);
  assert.ok(listening, `no Listening line in ${errors}:\n${readOr(errors)}${stderr}`);
  return { pid: proc.pid, port: Number(listening[1]), stderr: () => stderr, exited, proc };
}

test('USR1 after a rotation: new lines go to the new files, the inspector stays closed, the server serves', { skip: process.platform === 'win32' && 'no SIGUSR1 on Windows' }, async (t) => {
  assert.equal(await probe(INSPECTOR_PORT), 'refused', `something already listens on ${INSPECTOR_PORT}: the test cannot tell`);
  const dir = tempDir(t);
  const access = path.join(dir, 'access.log');
  const errors = path.join(dir, 'error.log');
  const server = await serverLoggingTo(t, ['hello_app:app', '--chdir', APPS, '--access-logfile', access], errors);
  assert.equal((await request(server.port, { path: '/before' })).status, 200);
  await waitUntil(() => read(access).includes('/before'), 5_000);
  assert.match(read(access), /"GET \/before HTTP\/1\.1" 200/);

  // What logrotate does: rename the files away, then USR1 to the master.
  renameSync(access, `${access}.1`);
  renameSync(errors, `${errors}.1`);
  process.kill(server.pid, 'SIGUSR1');
  assert.ok(await waitUntil(() => readOr(errors).includes('reopened the log files'), 5_000), 'the error log was opened again at its path');

  assert.equal((await request(server.port, { path: '/after' })).status, 200);
  assert.ok(await waitUntil(() => readOr(access).includes('/after'), 5_000), 'the access line went to the new file');
  assert.doesNotMatch(read(access), /\/before/, 'the new access log starts empty');
  assert.doesNotMatch(read(`${access}.1`), /\/after/, 'nothing more went to the rotated access log');
  assert.match(read(`${errors}.1`), /Listening at/, 'the rotated error log keeps what was written before');

  await sleep(500);
  assert.equal(await probe(INSPECTOR_PORT), 'refused', 'SIGUSR1 must not open the inspector');
  assert.doesNotMatch(read(errors) + read(`${errors}.1`) + server.stderr(), /Debugger listening/);

  // A second rotation works too, and the master is still there to answer it.
  renameSync(access, `${access}.2`);
  process.kill(server.pid, 'SIGUSR1');
  await sleep(300);
  assert.equal((await request(server.port, { path: '/again' })).status, 200);
  assert.ok(await waitUntil(() => readOr(access).includes('/again'), 5_000));
  assert.equal(await probe(INSPECTOR_PORT), 'refused');
  server.proc.kill('SIGTERM');
  assert.deepEqual(await server.exited, { code: 0, signal: null });
  assert.match(read(errors), /Shutting down: Master/, 'the master wrote to the new file to the end');
});

test('USR1 with the logs on stderr/stdout: nothing to reopen, the server keeps serving', { skip: process.platform === 'win32' && 'no SIGUSR1 on Windows' }, async (t) => {
  const server = await serverFor(t, ['hello_app:app', '--chdir', APPS, '--access-logfile', '-']);
  for (let i = 0; i < 3; i++) {
    process.kill(server.pid, 'SIGUSR1');
    await sleep(100);
  }
  assert.equal((await request(server.port, { path: '/' })).status, 200);
  assert.equal(isAlive(server.pid), true);
  assert.deepEqual(await server.stop('SIGTERM', 15_000), { code: 0, signal: null });
});

test('QUIT: quick shutdown, the workers are not waited for', { skip: process.platform === 'win32' && 'no SIGQUIT on Windows' }, async (t) => {
  const server = await serverFor(t, ['slow_app:app', '--chdir', APPS, '-w', '2', '--graceful-timeout', '60'], { waitWorkers: 2 });
  assert.equal((await request(server.port, { path: '/?s=0' })).status, 200);
  const workers = bootedPids(server);
  const inflight = request(server.port, { path: '/?s=30' }, { timeout: 20_000 }).catch((err) => err);
  await sleep(500);
  const started = Date.now();
  const exit = await server.stop('SIGQUIT', 15_000);
  assert.ok(Date.now() - started < 8_000, `exited ${Date.now() - started} ms after QUIT`);
  assert.deepEqual(exit, { code: 0, signal: null }, server.stderrText());
  const res = await inflight;
  assert.ok(res instanceof Error || res.status >= 500, 'the 30 s request was not waited for');
  await waitUntil(() => workers.every((pid) => !isAlive(pid)), 5_000);
  for (const pid of workers) assert.equal(isAlive(pid), false, `worker ${pid} is gone`);
});

test('QUIT during a graceful TERM cuts the wait short', { skip: process.platform === 'win32' && 'no SIGQUIT on Windows' }, async (t) => {
  const server = await serverFor(t, ['slow_app:app', '--chdir', APPS, '-w', '1', '--graceful-timeout', '60']);
  const inflight = request(server.port, { path: '/?s=30' }, { timeout: 20_000 }).catch((err) => err);
  await sleep(500);
  server.proc.kill('SIGTERM');
  await sleep(1_000);
  assert.equal(server.exitInfo, null, 'TERM waits for the request');
  const started = Date.now();
  const exit = await server.stop('SIGQUIT', 15_000);
  assert.ok(Date.now() - started < 8_000, `exited ${Date.now() - started} ms after QUIT`);
  assert.deepEqual(exit, { code: 0, signal: null });
  await inflight;
});

test('HUP: new workers replace the old ones, and requests keep being answered', { skip: process.platform === 'win32' && 'no SIGHUP on Windows' }, async (t) => {
  const server = await serverFor(t, ['slow_app:app', '--chdir', APPS, '-w', '2'], { waitWorkers: 2 });
  assert.equal((await request(server.port, { path: '/?s=0' })).status, 200);
  const old = bootedPids(server);
  const inflight = request(server.port, { path: '/?s=1.5' }, { timeout: 15_000 });
  await sleep(300);
  process.kill(server.pid, 'SIGHUP');
  assert.ok(await waitUntil(() => bootedPids(server).length >= 4, 15_000), `two new workers booted:\n${server.stderrText()}`);
  const res = await inflight;
  assert.equal(res.status, 200, 'the request in flight on an old worker finished');
  assert.ok(await waitUntil(() => old.every((pid) => !isAlive(pid)), 10_000), 'the old workers exited');
  const fresh = bootedPids(server).slice(2);
  for (let i = 0; i < 4; i++) {
    const r = await request(server.port, { path: '/?s=0' });
    assert.equal(r.status, 200);
    assert.ok(fresh.includes(Number(r.get('x-worker-pid'))), 'answered by a new worker');
  }
  assert.deepEqual(await server.stop('SIGTERM', 15_000), { code: 0, signal: null });
});

test('TTIN adds a worker, TTOU removes one, never below one', { skip: process.platform === 'win32' && 'no SIGTTIN on Windows' }, async (t) => {
  const server = await serverFor(t, ['slow_app:app', '--chdir', APPS, '-w', '1']);
  const alive = () => bootedPids(server).filter(isAlive);
  assert.ok(await waitUntil(() => alive().length === 1, 10_000));
  process.kill(server.pid, 'SIGTTIN');
  assert.ok(await waitUntil(() => alive().length === 2, 10_000), `TTIN: two workers:\n${server.stderrText()}`);
  await server.waitStderr(/number of workers: 2/);
  process.kill(server.pid, 'SIGTTOU');
  assert.ok(await waitUntil(() => alive().length === 1, 10_000), 'TTOU: one worker');
  process.kill(server.pid, 'SIGTTOU');
  await sleep(1_000);
  assert.equal(alive().length, 1, 'TTOU never takes the last worker');
  assert.equal((await request(server.port, { path: '/?s=0' })).status, 200);
  assert.deepEqual(await server.stop('SIGTERM', 15_000), { code: 0, signal: null });
});

test('WINCH on a master that is not daemonized: ignored, as gunicorn does', { skip: process.platform === 'win32' && 'no SIGWINCH on Windows' }, async (t) => {
  const server = await serverFor(t, ['slow_app:app', '--chdir', APPS, '-w', '2'], { waitWorkers: 2 });
  assert.equal((await request(server.port, { path: '/?s=0' })).status, 200);
  const workers = bootedPids(server);
  process.kill(server.pid, 'SIGWINCH');
  await sleep(1_000);
  for (const pid of workers) assert.equal(isAlive(pid), true, `worker ${pid} still runs`);
  assert.equal((await request(server.port, { path: '/?s=0' })).status, 200);
  assert.deepEqual(await server.stop('SIGTERM', 15_000), { code: 0, signal: null });
});
