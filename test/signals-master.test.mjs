// The master's other signals, as gunicorn's arbiter answers them: USR1 reopens the log files
// (and never opens Node's inspector), QUIT stops at once, HUP replaces the workers, TTIN/TTOU
// resize the pool, WINCH is ignored when not daemonized.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { APPS, ConnectionClosedError, RawClient, bootedPids, buildRequest, childPids, isAlive, probe, request, runCli, serverFor, serverLoggingTo, sleep, waitUntil } from './helpers.mjs';

const INSPECTOR_PORT = 9229;

function tempDir(t) {
  const dir = mkdtempSync(path.join(tmpdir(), 'nodicorn-signals-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const read = (file) => readFileSync(file, 'utf8');
const readOr = (file) => { try { return read(file); } catch { return ''; } };

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

test('HUP reads the config file again: the new workers get its -w and -e; other changes are named; a broken file keeps the old settings', { skip: process.platform === 'win32' && 'no SIGHUP on Windows' }, async (t) => {
  const dir = tempDir(t);
  writeFileSync(path.join(dir, 'greet.py'), [
    'import os',
    'def app(environ, start_response):',
    '    body = ("%s %d" % (os.environ.get("GREETING", "-"), os.getpid())).encode()',
    '    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])',
    '    return [body]',
    '',
  ].join('\n'));
  const conf = path.join(dir, 'app.conf.py');
  writeFileSync(conf, 'workers = 1\nraw_env = ["GREETING=one"]\n');
  const server = await serverFor(t, ['greet:app', '--chdir', dir, '-c', conf]);
  const greeting = async () => (await request(server.port, { path: '/' })).text().split(' ');
  assert.equal((await greeting())[0], 'one');

  writeFileSync(conf, 'workers = 2\nraw_env = ["GREETING=two"]\nkeepalive = 7\n');
  process.kill(server.pid, 'SIGHUP');
  await server.waitStderr(/HUP: changed settings that apply on a restart or USR2, not on HUP: --keep-alive$/, 15_000);
  assert.ok(await waitUntil(() => bootedPids(server).filter(isAlive).length === 2 && bootedPids(server).length === 3, 15_000), `two new workers, the old one gone:\n${server.stderrText()}`);
  const seen = new Set();
  for (let i = 0; i < 10; i++) {
    const [word, pid] = await greeting();
    assert.equal(word, 'two', 'the new workers got the new -e');
    seen.add(pid);
  }
  assert.ok(seen.size >= 1);

  writeFileSync(conf, 'workers = (\n');
  process.kill(server.pid, 'SIGHUP');
  await server.waitStderr(/HUP: cannot read the configuration again .*; the new workers get the one the old had/, 15_000);
  assert.ok(await waitUntil(() => bootedPids(server).length === 5 && bootedPids(server).filter(isAlive).length === 2, 15_000), `two fresh workers with the settings of before:\n${server.stderrText()}`);
  assert.equal((await greeting())[0], 'two');
  assert.deepEqual(await server.stop('SIGTERM', 15_000), { code: 0, signal: null });
});

test('HUP while the workers of the last HUP still boot: those are replaced too, and the server lives', { skip: process.platform === 'win32' && 'no SIGHUP on Windows' }, async (t) => {
  const server = await serverFor(t, ['slow_app:app', '--chdir', APPS, '-w', '2'], { waitWorkers: 2 });
  assert.equal((await request(server.port, { path: '/?s=0' })).status, 200);
  process.kill(server.pid, 'SIGHUP');
  await server.waitStderr(/Booting worker with pid: \d+/, 5_000, server.stderrLines.length);
  process.kill(server.pid, 'SIGHUP'); // the first HUP's workers are still importing the app
  assert.ok(await waitUntil(() => bootedPids(server).length === 6 && bootedPids(server).filter(isAlive).length === 2, 15_000), server.stderrText());
  assert.equal(server.exitInfo, null, `the server must not stop:\n${server.stderrText()}`);
  assert.doesNotMatch(server.stderrText(), /failed to boot|ERROR/);
  assert.equal((await request(server.port, { path: '/?s=0' })).status, 200);
  assert.deepEqual(await server.stop('SIGTERM', 15_000), { code: 0, signal: null });
});

test('TERM while a keep-alive client keeps sending: its next answer closes the connection, and the stop does not wait for the graceful timeout', async (t) => {
  const server = await serverFor(t, ['slow_app:app', '--chdir', APPS, '-w', '1', '--graceful-timeout', '30']);
  const client = await RawClient.connect(server.port);
  t.after(() => client.close());
  let closedBy = null;
  let answered = 0;
  const sending = (async () => {
    for (let i = 0; i < 500; i++) {
      let res;
      try {
        await client.write(buildRequest({ path: '/?s=0.05' }));
        res = await client.readResponse({ timeout: 15_000 });
      } catch (err) {
        // Closed while idle between two requests (the stop closes idle connections): nothing of
        // an answer was lost, and a client sends such a request again on a new connection.
        if (err instanceof ConnectionClosedError && err.received.length === 0 && answered > 0) {
          closedBy = 'closed while idle';
          return;
        }
        throw err;
      }
      assert.equal(res.status, 200);
      answered++;
      if (/close/i.test(res.get('connection') ?? '')) {
        closedBy = res;
        return;
      }
    }
  })();
  await sleep(1_000);
  const started = Date.now();
  const exit = await server.stop('SIGTERM', 25_000);
  await sending;
  assert.ok(closedBy, 'the connection was closed: after a response that said Connection: close, or while idle');
  assert.ok(Date.now() - started < 10_000, `stopped ${Date.now() - started} ms after TERM, not at the 30 s graceful timeout`);
  assert.deepEqual(exit, { code: 0, signal: null });
  assert.ok(answered >= 2);
  assert.doesNotMatch(server.stderrText(), /still busy after the graceful timeout/);
});

test('WINCH on a daemonized master (-D): the workers stop, requests wait, and TTIN (or the stop) brings a worker to answer them', { skip: process.platform !== 'linux' && 'reads /proc' }, async (t) => {
  const dir = tempDir(t);
  const pidfile = path.join(dir, 'd.pid');
  const log = path.join(dir, 'error.log');
  const cli = await runCli(['slow_app:app', '--chdir', APPS, '-w', '2', '-D', '-p', pidfile, '--error-logfile', log, '-b', '127.0.0.1:0']);
  assert.equal(cli.code, 0, cli.stderr);
  const pid = Number(readFileSync(pidfile, 'utf8'));
  t.after(() => { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } });
  const port = Number(/Listening at: http:\/\/127\.0\.0\.1:(\d+)/.exec(read(log))?.[1]);
  assert.equal((await request(port, { path: '/?s=0' })).status, 200);
  assert.ok(await waitUntil(() => childPids(pid).length === 2, 10_000));
  const workers = childPids(pid);

  process.kill(pid, 'SIGWINCH');
  assert.ok(await waitUntil(() => read(log).includes('graceful stop of workers'), 5_000), read(log));
  assert.ok(await waitUntil(() => workers.every((w) => !isAlive(w)), 10_000), 'the workers exited');
  await sleep(500);
  assert.deepEqual(childPids(pid), [], 'no worker comes back by itself');

  const waiting = request(port, { path: '/?s=0' }, { timeout: 20_000 });
  let settled = false;
  void waiting.then(() => { settled = true; }, () => { settled = true; });
  await sleep(1_000);
  assert.equal(settled, false, 'the request waits for a worker');
  process.kill(pid, 'SIGTTIN');
  const res = await waiting;
  assert.equal(res.status, 200);
  assert.equal(childPids(pid).length, 1, 'TTIN after WINCH: one worker');

  // WINCH again, a request accepted while no worker serves, then TERM: the stop boots a worker
  // to answer it (the upgrade path: USR2, WINCH, then TERM to the old master).
  process.kill(pid, 'SIGWINCH');
  assert.ok(await waitUntil(() => childPids(pid).length === 0, 10_000));
  const accepted = request(port, { path: '/?s=0' }, { timeout: 20_000 });
  await sleep(500);
  process.kill(pid, 'SIGTERM');
  assert.equal((await accepted).status, 200, 'answered by a worker booted for the stop');
  assert.ok(await waitUntil(() => !isAlive(pid), 20_000));
});
