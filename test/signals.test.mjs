// Graceful stop: SIGTERM/SIGINT let in-flight requests finish, stop accepting, exit 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { APPS } from './lib/paths.mjs';
import { serverFor } from './lib/server.mjs';
import { request } from './lib/http.mjs';
import { bootedPids, isAlive } from './lib/process.mjs';
import { sleep } from './lib/wait.mjs';

function connectRefused(port) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    const timer = setTimeout(() => { s.destroy(); resolve(false); }, 2_000);
    s.once('connect', () => { clearTimeout(timer); s.destroy(); resolve(false); });
    s.once('error', (err) => { clearTimeout(timer); resolve(err.code === 'ECONNREFUSED'); });
  });
}

for (const signal of ['SIGTERM', 'SIGINT']) {
  test(`${signal}: the in-flight slow request completes, new connections are refused, exit 0`, async (t) => {
    const server = await serverFor(t, ['slow_app:app', '--chdir', APPS, '-w', '2', '--graceful-timeout', '20'], { waitWorkers: 2 });
    assert.equal((await request(server.port, { path: '/?s=0' })).status, 200);
    const workers = bootedPids(server);

    const inflight = request(server.port, { path: '/?s=4' }, { timeout: 15_000 });
    await sleep(500); // dispatched and sleeping
    server.proc.kill(signal);
    // Polled, not read once after a fixed pause: on a loaded machine the signal can take a few
    // hundred milliseconds to be handled. The in-flight request still has seconds to go.
    let refused = false;
    const until = Date.now() + 2_500;
    while (!refused && Date.now() < until) {
      refused = await connectRefused(server.port);
      if (!refused) await sleep(100);
    }
    assert.equal(refused, true, 'the listener is closed during the graceful stop');

    const res = await inflight;
    assert.equal(res.status, 200);
    assert.equal(res.text(), 'slept 4.0');

    const exit = await server.stop(signal, 15_000);
    assert.equal(exit.code, 0, `exit ${JSON.stringify(exit)}\n${server.stderrText()}`);
    await sleep(300);
    for (const pid of workers) assert.equal(isAlive(pid), false, `worker ${pid} is gone`);
  });
}

test('SIGTERM with --graceful-timeout 1 does not wait for a 30 s request', async (t) => {
  const server = await serverFor(t, ['slow_app:app', '--chdir', APPS, '-w', '1', '--graceful-timeout', '1']);
  const inflight = request(server.port, { path: '/?s=30' }, { timeout: 20_000 }).catch((err) => err);
  await sleep(500);
  const started = Date.now();
  const exit = await server.stop('SIGTERM', 15_000);
  const took = Date.now() - started;
  assert.ok(took < 8_000, `exited ${took} ms after SIGTERM`);
  assert.ok(exit.code !== null || exit.signal !== null);
  await inflight;
});

test('SIGTERM on an idle server exits 0 quickly', async (t) => {
  const server = await serverFor(t, ['slow_app:app', '--chdir', APPS, '-w', '2'], { waitWorkers: 2 });
  assert.equal((await request(server.port, { path: '/?s=0' })).status, 200);
  await sleep(200);
  const started = Date.now();
  const exit = await server.stop('SIGTERM', 15_000);
  assert.equal(exit.code, 0);
  assert.ok(Date.now() - started < 5_000);
});

test('SIGTERM right after the Listening line (workers may still be booting) exits 0, not killed', async (t) => {
  const server = await serverFor(t, ['slow_app:app', '--chdir', APPS, '-w', '2']);
  const exit = await server.stop('SIGTERM', 15_000);
  assert.deepEqual(exit, { code: 0, signal: null }, 'the signal handlers must be in place before "Listening at" is logged');
});
