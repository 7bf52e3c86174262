// The master's signals with several front ends (--frontends 2), from outside: HUP replaces every
// worker and keeps the front ends, TERM finishes the requests in flight on both, QUIT is quick,
// TTIN/TTOU resize the whole server, USR2 starts a new master with its own front ends. Under load
// where it says so, with every answer counted (lib/counted-load.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient } from './lib/raw-client.mjs';
import { buildRequest, probe, request } from './lib/http.mjs';
import { isAlive } from './lib/process.mjs';
import { sleep, waitUntil } from './lib/wait.mjs';
import { countedLoad } from './lib/counted-load.mjs';
import { answered, frontendPid, frontendsOf, safeChildren, split, title, withFrontends, workersOf } from './lib/frontends.mjs';

const skip = process.platform !== 'linux' && 'reads the process tree from /proc and sends POSIX signals';

/** The load, with `during()` run once it is under way; asserts that nothing was lost. */
async function underLoad(t, server, during, { ms = 4_000, clients = 6 } = {}) {
  const counts = new Map();
  const running = countedLoad({
    port: server.port, clients, ms, expect: answered,
    seen: (res) => counts.set(frontendPid(res), (counts.get(frontendPid(res)) ?? 0) + 1),
  });
  await sleep(500);
  await during();
  const result = await running;
  t.diagnostic(`${result.ok} answers (${result.fresh} on fresh connections, ${result.reused} on reused ones), ${result.retries} retries; per front end ${split(counts)}`);
  assert.deepEqual(result.failures, [], `answers lost:\n${server.stderrText().split('\n').slice(-30).join('\n')}`);
  // A reused connection the server closed as the request went out is retried once, as clients do.
  assert.ok(result.retries <= result.reused, `${result.retries} retries for ${result.reused} requests on reused connections`);
  assert.ok(result.ok >= 100, `only ${result.ok} answers`);
  return { ...result, counts };
}

test('HUP with 2 front ends under keep-alive load: every request answered, every worker replaced, the same front ends', { skip }, async (t) => {
  const server = await withFrontends(t, 2, 2);
  const frontends = frontendsOf(server.pid).map((f) => f.pid);
  const old = workersOf(server.pid).map((w) => w.pid);
  const fresh = () => workersOf(server.pid).filter((w) => !old.includes(w.pid));
  const result = await underLoad(t, server, async () => {
    process.kill(server.pid, 'SIGHUP');
    await waitUntil(() => fresh().length === 2 && old.every((pid) => !isAlive(pid)), 15_000);
  });
  assert.ok(await waitUntil(() => old.every((pid) => !isAlive(pid)), 10_000), `the old workers ${old} exited`);
  assert.equal(fresh().length, 2, `two new workers:\n${server.stderrText()}`);
  assert.deepEqual(frontendsOf(server.pid).map((f) => f.pid), frontends, 'the front ends are the same processes');
  assert.deepEqual(fresh().map((w) => w.frontend).sort(), [...frontends].sort(), 'one new worker under each front end');
  assert.ok(fresh().some((w) => result.pids.has(w.pid)), 'the new workers answered during the load');
  assert.deepEqual(await server.stop('SIGTERM', 15_000), { code: 0, signal: null });
});

/**
 * Keep-alive connections, `each` on every front end of `server`: a quick request on each new
 * connection tells which front end accepted it (connections past what is needed are closed).
 */
async function connectionsOnEach(t, server, each) {
  const byFrontend = new Map(frontendsOf(server.pid).map((f) => [f.pid, []]));
  for (let i = 0; i < 60 && [...byFrontend.values()].some((list) => list.length < each); i++) {
    const client = await RawClient.connect(server.port);
    t.after(() => client.close());
    await client.write(buildRequest({ path: '/' }));
    const res = await client.readResponse();
    assert.ok(answered(res));
    const list = byFrontend.get(frontendPid(res));
    if (list.length < each) list.push(client);
    else client.close();
  }
  for (const [pid, list] of byFrontend) assert.equal(list.length, each, `${each} connections on front end ${pid}`);
  return [...byFrontend.values()].flat();
}

test('TERM with 2 front ends and slow requests in flight on both: each gets its 200, the master exits 0, then connections are refused', { skip }, async (t) => {
  const server = await withFrontends(t, 2, 2, ['--graceful-timeout', '30']);
  const clients = await connectionsOnEach(t, server, 2);
  // Two 0.5 s requests per front end, on its one worker: the second waits for the first.
  const slow = clients.map(async (client) => {
    await client.write(buildRequest({ path: '/?s=0.5' }));
    return client.readResponse({ timeout: 15_000 });
  });
  await sleep(200);
  const started = Date.now();
  const exit = await server.stop('SIGTERM', 20_000);
  const answers = await Promise.all(slow);
  t.diagnostic(`exited ${Date.now() - started} ms after TERM`);
  assert.deepEqual(exit, { code: 0, signal: null }, server.stderrText());
  assert.deepEqual(answers.map((r) => r.status), [200, 200, 200, 200]);
  for (const r of answers) assert.match(r.text(), /^\d+ \d+$/);
  assert.equal(new Set(answers.map(frontendPid)).size, 2, 'answered by both front ends');
  assert.equal(await probe(server.port), 'refused', 'the listener is closed');
});

test('TERM just after a front end died: the one started in its place stops too, and the master exits', { skip }, async (t) => {
  const server = await withFrontends(t, 2, 2, ['--graceful-timeout', '30']);
  const [victim] = frontendsOf(server.pid);
  // One that dies in its first second is replaced only a second later; this one is replaced at once.
  await sleep(1_200);
  const from = server.stderrLines.length;
  process.kill(victim.pid, 'SIGKILL');
  // Its replacement is spawned at once: TERM reaches it before it has started serving.
  await server.waitStderr(/exited by SIGKILL; starting another/, 10_000, from);
  const started = Date.now();
  const exit = await server.stop('SIGTERM', 20_000);
  t.diagnostic(`exited ${Date.now() - started} ms after TERM`);
  assert.deepEqual(exit, { code: 0, signal: null }, server.stderrText());
  // The master exits once every front end has: well within --graceful-timeout (30 s, then 5 s
  // more before a kill), so the replacement heard the stop and did not wait to be killed.
  assert.ok(Date.now() - started < 15_000, server.stderrText());
});

test('QUIT with 2 front ends: a quick stop that does not wait for a slow request', { skip }, async (t) => {
  const server = await withFrontends(t, 2, 2, ['--graceful-timeout', '60']);
  const workers = workersOf(server.pid).map((w) => w.pid);
  const inflight = request(server.port, { path: '/?s=30' }, { timeout: 20_000 }).catch((err) => err);
  await sleep(500);
  const started = Date.now();
  const exit = await server.stop('SIGQUIT', 15_000);
  const took = Date.now() - started;
  t.diagnostic(`exited ${took} ms after QUIT`);
  assert.ok(took < 8_000, `exited ${took} ms after QUIT`);
  assert.deepEqual(exit, { code: 0, signal: null }, server.stderrText());
  const res = await inflight;
  assert.ok(res instanceof Error || res.status >= 500, 'the 30 s request was not waited for');
  assert.ok(await waitUntil(() => workers.every((pid) => !isAlive(pid)), 5_000), 'every worker is gone');
});

test('TTIN/TTOU with -w 3 --frontends 2: the whole server goes 3, 4, 3, 2 workers, a TTOU at one per front end is ignored, nothing is lost', { skip }, async (t) => {
  const server = await withFrontends(t, 3, 2);
  const count = () => workersOf(server.pid).filter((w) => isAlive(w.pid)).length;
  const seen = [count()];
  const step = async (signal, want) => {
    const from = server.stderrLines.length;
    process.kill(server.pid, signal);
    // A worker told to go is a child until its front end reaps it: counted once it is gone.
    await waitUntil(() => count() === want, 10_000);
    seen.push(count());
    return from;
  };
  let ignoredAt = -1;
  await underLoad(t, server, async () => {
    await step('SIGTTIN', 4);
    await step('SIGTTOU', 3);
    await step('SIGTTOU', 2);
    ignoredAt = await step('SIGTTOU', 2);
    await server.waitStderr(/Handling signal: ttou: ignored, each of the 2 front ends keeps one worker/, 5_000, ignoredAt);
    await sleep(500);
  }, { ms: 6_000 });
  assert.deepEqual(seen, [3, 4, 3, 2, 2], server.stderrText());
  assert.equal(count(), 2, 'still two workers after the ignored TTOU');
  for (const f of frontendsOf(server.pid)) assert.equal(safeChildren(f.pid).length, 1, `front end ${f.index} keeps one worker`);
  assert.deepEqual(await server.stop('SIGTERM', 15_000), { code: 0, signal: null });
});

test('USR2 with 2 front ends: a new master with its own front ends serves on the same port; TERM to the old one refuses nothing', { skip }, async (t) => {
  const server = await withFrontends(t, 2, 2);
  const oldFrontends = frontendsOf(server.pid).map((f) => f.pid);
  let newMaster = null;
  t.after(() => { if (newMaster && isAlive(newMaster)) process.kill(newMaster, 'SIGKILL'); });
  const masterChild = () => safeChildren(server.pid).find((pid) => /^nodicorn: master /.test(title(pid) ?? ''));
  let newFrontends = [];
  let newTitle = null;
  const result = await underLoad(t, server, async () => {
    process.kill(server.pid, 'SIGUSR2');
    newMaster = await waitUntil(masterChild, 15_000);
    assert.ok(newMaster, `a new master:\n${server.stderrText()}`);
    assert.ok(await waitUntil(() => frontendsOf(newMaster).length === 2 && workersOf(newMaster).length === 2, 20_000), `the new master's front ends and workers:\n${server.stderrText()}`);
    newFrontends = frontendsOf(newMaster).map((f) => f.pid);
    newTitle = title(newMaster);
    await server.waitStderr(new RegExp(`\\[${newFrontends[0]}\\] \\[INFO\\] Booting worker`), 10_000);
    await sleep(1_000);
    process.kill(server.pid, 'SIGTERM');
    await server.exited;
    await sleep(1_000);
  }, { ms: 6_000 });
  assert.equal(newTitle, 'nodicorn: master [frontend_app:app.2]', 'the new master\'s title beside the old one');
  assert.deepEqual(server.exitInfo, { code: 0, signal: null }, 'the old master exited 0');
  assert.ok(newFrontends.some((pid) => result.counts.has(pid)), `the new front ends served during the load (${split(result.counts)})`);
  assert.ok(oldFrontends.every((pid) => !isAlive(pid)), 'the old front ends are gone');
  assert.ok(await waitUntil(() => title(newMaster) === 'nodicorn: master [frontend_app:app]', 5_000), `the new master, alone, drops ".2": ${title(newMaster)}`);
  const after = await request(server.port, { path: '/' });
  assert.ok(answered(after));
  assert.ok(newFrontends.includes(frontendPid(after)), 'the new master\'s front ends serve after the old one left');
  process.kill(newMaster, 'SIGTERM');
  assert.ok(await waitUntil(() => !isAlive(newMaster), 15_000), 'the new master stops on TERM');
});
