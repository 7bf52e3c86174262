// Zero-drop lifecycle under load: while several keep-alive clients (and some one-request
// connections) keep sending, a HUP reload, --max-requests, --workers-lifetime and
// --workers-max-rss recycling, TTOU/TTIN and a worker that dies mid-request each lose no request
// except the dying worker's own. Every answer is counted (see lib/counted-load.mjs for the one
// retry a real HTTP client would make).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { APPS } from './lib/paths.mjs';
import { serverFor } from './lib/server.mjs';
import { request } from './lib/http.mjs';
import { bootedPids, isAlive } from './lib/process.mjs';
import { sleep, waitUntil } from './lib/wait.mjs';
import { countedLoad } from './lib/counted-load.mjs';

const skipSignals = process.platform === 'win32' && 'no POSIX signals on Windows';
const LOAD_MS = 3_000;
const hello = (res) => res.status === 200 && res.text() === 'hello';
const ok = (res) => res.status === 200 && res.text() === 'ok';

/** The load, with `during()` run once it is under way; asserts nothing was lost. */
async function underLoad(t, server, expect, during, target = '/') {
  const running = countedLoad({ port: server.port, clients: 4, ms: LOAD_MS, expect, target });
  await sleep(600);
  await during();
  const result = await running;
  t.diagnostic(`${result.ok} right answers (${result.fresh} on fresh connections, ${result.reused} on reused ones), ` +
    `${result.retries} retries, ${result.failures.length} failures, ${result.pids.size} worker pids`);
  return result;
}

function assertNoLoss(server, result, atLeast = 100) {
  assert.deepEqual(result.failures, [], `answers lost:\n${server.stderrText().split('\n').slice(-30).join('\n')}`);
  // A request retried on a fresh connection is counted as a fresh one; a fresh connection's own
  // first request is never retried, so retries can only come from reused connections.
  assert.ok(result.retries <= result.reused, `${result.retries} retries for ${result.reused} requests on reused connections`);
  assert.ok(result.ok >= atLeast, `only ${result.ok} answers in ${LOAD_MS} ms`);
}

test('HUP under keep-alive load: a new generation takes over and every request gets its 200', { skip: skipSignals }, async (t) => {
  const server = await serverFor(t, ['hello_app:app', '--chdir', APPS, '-w', '2'], { waitWorkers: 2 });
  const old = bootedPids(server);
  const result = await underLoad(t, server, hello, async () => {
    process.kill(server.pid, 'SIGHUP');
    await waitUntil(() => bootedPids(server).length >= 4, 10_000);
  });
  assertNoLoss(server, result);
  const fresh = bootedPids(server).slice(2);
  assert.equal(fresh.length, 2, `two new workers booted:\n${server.stderrText()}`);
  assert.ok(fresh.some((pid) => result.pids.has(pid)), 'the new workers answered during the load');
  assert.ok(await waitUntil(() => old.every((pid) => !isAlive(pid)), 10_000), 'the old workers exited');
  assert.deepEqual(await server.stop('SIGTERM', 15_000), { code: 0, signal: null });
});

test('--max-requests 20 --max-requests-jitter 10 under keep-alive load: workers recycle many times, nothing is lost', async (t) => {
  const server = await serverFor(t, ['hello_app:app', '--chdir', APPS, '-w', '2', '--max-requests', '20', '--max-requests-jitter', '10'], { waitWorkers: 2 });
  const result = await underLoad(t, server, hello, async () => {});
  assertNoLoss(server, result);
  // Each worker serves at most 30 requests, so the answers name at least that many pids' worth.
  assert.ok(result.pids.size >= Math.ceil(result.ok / 30), `${result.pids.size} workers for ${result.ok} answers`);
  assert.ok(result.pids.size >= 4, `only ${result.pids.size} workers: no recycling seen`);
});

const RESTART = /Autorestarting worker \d+ after .*reason=(\w+)/;
const restarts = (server, reason) => server.stderrLines.filter((l) => RESTART.exec(l)?.[1] === reason).length;

test('--workers-lifetime 1 with jitter under keep-alive load: workers replaced by age, nothing is lost', async (t) => {
  const server = await serverFor(t, ['hello_app:app', '--chdir', APPS, '-w', '2', '--workers-lifetime', '1', '--workers-lifetime-jitter', '0.5'], { waitWorkers: 2 });
  const result = await underLoad(t, server, hello, async () => {
    await waitUntil(() => restarts(server, 'lifetime') >= 2, 5_000);
  });
  assertNoLoss(server, result);
  assert.ok(restarts(server, 'lifetime') >= 2, `workers replaced for their lifetime:\n${server.stderrText()}`);
  assert.ok(result.pids.size >= 3, `${result.pids.size} workers answered`);
  assert.deepEqual(await server.stop('SIGTERM', 15_000), { code: 0, signal: null });
});

test('--workers-max-rss 60 under keep-alive load: growing workers replaced by memory, nothing is lost', async (t) => {
  // Each request keeps 1 MiB more: two workers pass 60 MiB within the load, many times over.
  const grown = (res) => res.status === 200 && /^\d+ MiB held$/.test(res.text());
  const server = await serverFor(t, ['grow_app:app', '--chdir', APPS, '-w', '2', '--workers-max-rss', '60'], { waitWorkers: 2 });
  const result = await underLoad(t, server, grown, async () => {
    await waitUntil(() => restarts(server, 'rss') >= 2, 5_000);
  }, '/?mb=1&s=0.02');
  assertNoLoss(server, result, 50);
  assert.ok(restarts(server, 'rss') >= 2, `workers replaced for their memory:\n${server.stderrText()}`);
  assert.ok(result.pids.size >= 3, `${result.pids.size} workers answered`);
  assert.deepEqual(await server.stop('SIGTERM', 15_000), { code: 0, signal: null });
});

test('TTOU then TTIN under keep-alive load: the pool shrinks and grows, nothing is lost', { skip: skipSignals }, async (t) => {
  const server = await serverFor(t, ['hello_app:app', '--chdir', APPS, '-w', '3'], { waitWorkers: 3 });
  const first = bootedPids(server);
  const alive = () => bootedPids(server).filter(isAlive);
  let shrunk = false;
  const result = await underLoad(t, server, hello, async () => {
    // One at a time: two signals sent at once may arrive as one.
    process.kill(server.pid, 'SIGTTOU');
    await waitUntil(() => alive().length === 2, 10_000);
    process.kill(server.pid, 'SIGTTOU');
    shrunk = await waitUntil(() => alive().length === 1, 10_000);
    await sleep(300);
    process.kill(server.pid, 'SIGTTIN');
    await waitUntil(() => alive().length === 2, 10_000);
  });
  assertNoLoss(server, result);
  assert.ok(shrunk, `TTOU twice left one worker of ${first}:\n${server.stderrText()}`);
  assert.equal(alive().length, 2, 'TTIN brought the pool to two');
  const added = bootedPids(server).slice(3);
  assert.equal(added.length, 1, 'TTIN booted one worker');
  assert.deepEqual(await server.stop('SIGTERM', 15_000), { code: 0, signal: null });
});

// With --prefetch 0 a worker holds one request at a time. With the default prefetch it holds a
// batch: the answers it finished before dying must still reach their clients, and the request it
// died on must not be handed to another worker (it would kill that one too).
for (const prefetch of [['--prefetch', '0'], []]) {
  test(`a worker that dies mid-request under keep-alive load (${prefetch.join(' ') || 'default prefetch'}): only its own request fails (502), every other gets its 200`, async (t) => {
    const server = await serverFor(t, ['exit_app:app', '--chdir', APPS, '-w', '2', ...prefetch], { waitWorkers: 2 });
    let exitAnswer = null;
    const result = await underLoad(t, server, ok, async () => {
      exitAnswer = await request(server.port, { path: '/exit' }, { timeout: 15_000 });
      await waitUntil(() => bootedPids(server).length >= 3, 10_000);
    });
    assert.equal(exitAnswer.status, 502, `the dying worker's request: ${exitAnswer.status} ${exitAnswer.text()}`);
    assertNoLoss(server, result);
    const deaths = server.stderrLines.filter((l) => /exited with code 3/.test(l));
    assert.equal(deaths.length, 1, `one worker died, for the one /exit request:\n${server.stderrText()}`);
    const replacement = bootedPids(server)[2];
    assert.ok(replacement, `a worker replaced the dead one:\n${server.stderrText()}`);
    assert.ok(result.pids.has(replacement), 'the replacement answered during the load');
    assert.deepEqual(await server.stop('SIGTERM', 15_000), { code: 0, signal: null });
  });
}
