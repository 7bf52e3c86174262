// Graceful stop under a continuous keep-alive load: once SIGTERM arrives, every response says
// Connection: close, the clients stop sending on their connections, what is queued and in flight
// finishes, and the server exits 0 well before --graceful-timeout: every answer is a 200.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { APPS } from './lib/paths.mjs';
import { serverFor } from './lib/server.mjs';
import { keepAliveLoad } from './lib/load.mjs';
import { request } from './lib/http.mjs';
import { sleep } from './lib/wait.mjs';
import { h2connect, h2request, makeCerts, tlsArgs } from './tls-helpers.mjs';

/** `promise`, or a failure past `ms`. */
function within(promise, ms, what) {
  let timer;
  const late = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms); });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** What a load says, for an assertion message. */
function summary(load) {
  const byStatus = {};
  for (const a of load.answers) byStatus[a.status] = (byStatus[a.status] ?? 0) + 1;
  return JSON.stringify({ byStatus, dropped: load.dropped, refused: load.refused, timeouts: load.timeouts });
}

for (const engine of ['lean', 'node']) {
  test(`${engine}: SIGTERM under keep-alive load drains: all 200, Connection: close after TERM, exit 0 before --graceful-timeout`, async (t) => {
    const server = await serverFor(t, ['slow_app:app', '--chdir', APPS, '-w', '2', '--threads', '2', '--keep-alive', '30', '--graceful-timeout', '25', '--http-engine', engine], { waitWorkers: 2 });
    // 16 clients on 4 threads of 0.2 s: the queue always holds requests, as under wrk.
    const running = keepAliveLoad({ port: server.port, clients: 16, target: '/?s=0.2', until: Date.now() + 40_000 });
    await sleep(2_500);
    const before = Date.now();
    server.proc.kill('SIGTERM');
    const exit = await server.stop('SIGTERM', 35_000);
    const took = Date.now() - before;
    const load = await running;

    assert.equal(exit.code, 0, `exit ${JSON.stringify(exit)}\n${server.stderrText()}`);
    assert.equal(load.timeouts, 0, summary(load));
    const bad = load.answers.filter((a) => a.status !== 200);
    assert.deepEqual(bad, [], `every answer is a 200: ${summary(load)}`);
    assert.ok(load.answers.filter((a) => a.at < before).length >= 8, `the load ran before TERM: ${summary(load)}`);
    // Without the drain, keep-alive clients refill the queue until --graceful-timeout kills the workers.
    assert.ok(took < 20_000, `exited ${took} ms after TERM, not at --graceful-timeout: ${summary(load)}`);
    // Before TERM the connections were kept alive: the load is a keep-alive one.
    assert.ok(load.answers.some((a) => a.at < before && !a.close), summary(load));
    // After it, each client's connection ended with a Connection: close answer, then a refused connect.
    const closedAfter = load.answers.filter((a) => a.at >= before && a.close).length;
    assert.ok(closedAfter >= 1, summary(load));
    assert.equal(load.refused + load.dropped >= 16, true, `every client stopped on a refused connect: ${summary(load)}`);
    assert.doesNotMatch(server.stderrText(), /still busy after the graceful timeout/);
  });
}

test('--shutdown-delay: new connections are still served (Connection: close) during the delay, refused after it, exit 0', async (t) => {
  const server = await serverFor(t, ['slow_app:app', '--chdir', APPS, '-w', '1', '--shutdown-delay', '3', '--graceful-timeout', '10'], { waitWorkers: 1 });
  assert.equal((await request(server.port, { path: '/?s=0' })).status, 200);
  const sent = Date.now();
  server.proc.kill('SIGTERM');
  await server.waitStderr(/Shutdown delay/, 5_000);
  const during = await request(server.port, { path: '/?s=0' });
  assert.ok(Date.now() - sent < 2_500, 'answered within the delay');
  assert.equal(during.status, 200);
  assert.equal(during.get('connection'), 'close');
  const exit = await server.stop('SIGTERM', 20_000);
  assert.ok(Date.now() - sent >= 3_000, 'the listeners stayed open for the delay');
  assert.equal(exit.code, 0, server.stderrText());
  await assert.rejects(request(server.port, { path: '/?s=0' }), /ECONNREFUSED/);
});

test('HTTP/2: on SIGTERM an open session gets GOAWAY and its stream in flight finishes; a session opened during --shutdown-delay gets GOAWAY after its first stream', async (t) => {
  const certs = makeCerts();
  t.after(() => certs.cleanup());
  const server = await serverFor(t, ['slow_app:app', '--chdir', APPS, ...tlsArgs(certs), '--http-protocols', 'h2,h1', '-w', '1', '--threads', '2', '--keep-alive', '30', '--shutdown-delay', '8', '--graceful-timeout', '10'], { waitWorkers: 1 });
  const first = await h2connect(t, server.port, certs);
  const firstGoaway = new Promise((resolve) => first.once('goaway', resolve));
  const inflight = h2request(first, { path: '/?s=1' });
  await sleep(300);
  const sent = Date.now();
  server.proc.kill('SIGTERM');
  await server.waitStderr(/Shutdown delay/, 5_000);
  await within(firstGoaway, 5_000, 'GOAWAY on the session open at SIGTERM');
  assert.equal((await inflight).status, 200);

  const second = await h2connect(t, server.port, certs);
  const secondGoaway = new Promise((resolve) => second.once('goaway', resolve));
  assert.equal((await h2request(second, { path: '/?s=0' })).status, 200);
  await within(secondGoaway, 5_000, 'GOAWAY after the first stream of a session opened during the delay');
  // Within the delay: not the GOAWAY every session gets when the listeners close after it.
  assert.ok(Date.now() - sent < 8_000, `GOAWAY ${Date.now() - sent} ms after TERM, past the delay`);
  const exit = await server.stop('SIGTERM', 20_000);
  assert.equal(exit.code, 0, server.stderrText());
});

test('QUIT during --shutdown-delay ends the delay and the wait for in-flight requests: a quick exit', async (t) => {
  const server = await serverFor(t, ['slow_app:app', '--chdir', APPS, '-w', '1', '--shutdown-delay', '60', '--graceful-timeout', '60'], { waitWorkers: 1 });
  const inflight = request(server.port, { path: '/?s=30' }, { timeout: 40_000 }).catch((err) => err);
  await sleep(500);
  server.proc.kill('SIGTERM');
  await server.waitStderr(/Shutdown delay/, 5_000);
  const started = Date.now();
  const exit = await server.stop('SIGQUIT', 30_000);
  assert.ok(Date.now() - started < 15_000, `exited ${Date.now() - started} ms after QUIT`);
  assert.equal(exit.code, 0, server.stderrText());
  await inflight;
});
