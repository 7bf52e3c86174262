// --frontends N from outside: the process tree (one master, N front ends, each front end the
// parent of its workers), both front ends accepting under load, a front end killed with SIGKILL
// replaced while the service answers, a unix socket, how many front ends a setting gives, and an
// app that cannot be imported. fixtures/apps/frontend_app.py answers with its parent's pid, which
// is the front end that served. The signals are in frontends-signals.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { APPS } from './lib/paths.mjs';
import { runCli, serverFor } from './lib/server.mjs';
import { unixGet } from './lib/http.mjs';
import { bootedPids, childPids, isAlive } from './lib/process.mjs';
import { sleep, waitUntil } from './lib/wait.mjs';
import { countedLoad } from './lib/counted-load.mjs';
import { answered, frontendPid, frontendsOf, safeChildren, split, title, withFrontends, workersOf } from './lib/frontends.mjs';

const skip = process.platform !== 'linux' && 'reads the process tree from /proc and sends POSIX signals';
const APP = ['frontend_app:app', '--chdir', APPS];

/** Answers per front-end pid, counted by countedLoad's `seen`. */
function tally() {
  const counts = new Map();
  return { counts, seen: (res) => counts.set(frontendPid(res), (counts.get(frontendPid(res)) ?? 0) + 1) };
}

test('-w 2 --frontends 2: one master, two front ends each the parent of its worker, and both accept under load', { skip }, async (t) => {
  const server = await withFrontends(t, 2, 2);
  assert.equal(title(server.pid), 'nodicorn: master [frontend_app:app]');
  const frontends = frontendsOf(server.pid);
  assert.deepEqual(frontends.map((f) => `${f.index}/${f.count}`), ['1/2', '2/2']);
  assert.deepEqual(childPids(server.pid).sort(), frontends.map((f) => f.pid).sort(), 'the master has the front ends as its only children');
  for (const f of frontends) assert.equal(safeChildren(f.pid).length, 1, `front end ${f.index} runs one worker`);
  assert.deepEqual(workersOf(server.pid).map((w) => w.pid).sort(), bootedPids(server).sort(), 'the booted workers are the front ends\' children');

  // The keep-alive clients connect 25 ms apart, as a client pool fills; a burst of connections
  // at one instant goes to whichever front end the kernel wakes first (see bench/README.md,
  // accept-balance), which is measured below and not asserted.
  const loads = [['16 keep-alive connections opened 25 ms apart', Infinity, 16, 25], ['a new connection per request', 1, 4, 0]];
  for (const [name, freshEvery, clients, rampMs] of loads) {
    const { counts, seen } = tally();
    const result = await countedLoad({ port: server.port, clients, ms: 2_500, freshEvery, rampMs, expect: answered, seen });
    t.diagnostic(`${name}: ${result.ok} answers; per front end ${split(counts)}`);
    assert.deepEqual(result.failures, [], name);
    assert.ok(result.ok >= 100, `${name}: only ${result.ok} answers`);
    assert.deepEqual([...counts.keys()].sort(), frontends.map((f) => f.pid).sort(), `${name}: answered by the two front ends`);
    for (const [pid, n] of counts) assert.ok(n >= result.ok / 10, `${name}: front end ${pid} served ${n} of ${result.ok} (under 10 %)`);
  }
  const burst = tally();
  const result = await countedLoad({ port: server.port, clients: 16, ms: 1_000, freshEvery: Infinity, expect: answered, seen: burst.seen });
  t.diagnostic(`16 keep-alive connections opened at once: ${result.ok} answers; per front end ${split(burst.counts)}`);
  assert.deepEqual(result.failures, [], 'a burst of keep-alive connections');
  assert.deepEqual(await server.stop('SIGTERM', 15_000), { code: 0, signal: null });
});

test('a front end killed with SIGKILL under load: another takes its place and its workers, and the service answers throughout', { skip }, async (t) => {
  const CLIENTS = 6;
  const WINDOW = 250;
  const server = await withFrontends(t, 2, 2);
  const [victim, other] = frontendsOf(server.pid);
  const victimWorkers = safeChildren(victim.pid);
  const answers = [];
  // The load goes on 6 s after the kill: past the 5 s the replacement is given to serve.
  const load = countedLoad({
    port: server.port, clients: CLIENTS, ms: 6_800, freshEvery: 1, expect: answered,
    seen: (res) => answers.push({ at: Date.now(), frontend: frontendPid(res) }),
  });
  await sleep(800);
  const killedAt = Date.now();
  const from = server.stderrLines.length;
  process.kill(victim.pid, 'SIGKILL');
  const replacement = await waitUntil(() => frontendsOf(server.pid).find((f) => f.index === victim.index && f.pid !== victim.pid), 10_000, 10);
  const startedIn = Date.now() - killedAt;
  const booted = await server.waitStderr(new RegExp(`\\[${replacement?.pid}\\] \\[INFO\\] Booting worker`), 10_000, from).then(() => Date.now() - killedAt, () => null);
  const result = await load;
  const loadEnd = Math.max(...answers.map((a) => a.at));

  assert.ok(replacement, `a new front end ${victim.index}/2:\n${server.stderrText()}`);
  assert.equal(title(replacement.pid), `nodicorn: frontend ${victim.index}/2 [frontend_app:app]`);
  assert.ok(frontendsOf(server.pid).some((f) => f.pid === other.pid), 'the other front end kept running');
  const first = answers.find((a) => a.frontend === replacement.pid);
  assert.ok(first, `the new front end ${replacement.pid} (running ${startedIn} ms after the kill, its worker booting at ${booted} ms) served during the load:\n${server.stderrLines.slice(from).join('\n')}`);
  const took = first.at - killedAt;
  t.diagnostic(`after the kill: the new front end ran at ${startedIn} ms, booted its worker at ${booted} ms, answered at ${took} ms; ${result.ok} answers, ${result.failures.length} failures: ${JSON.stringify(result.failures.map((f) => ({ ...f, at: f.at - killedAt })))}`);
  assert.ok(took <= 5_000, `the new front end served ${took} ms after the kill`);
  assert.ok(await waitUntil(() => victimWorkers.every((pid) => !isAlive(pid)), 10_000), `the killed front end's workers ${victimWorkers} exited`);

  // Every 250 ms from the kill to the end of the load had an answer: the other front end kept
  // accepting while the replacement started.
  const gaps = [];
  for (let from = killedAt; from + WINDOW <= loadEnd; from += WINDOW) {
    if (!answers.some((a) => a.at >= from && a.at < from + WINDOW)) gaps.push(from - killedAt);
  }
  assert.deepEqual(gaps, [], 'windows (ms after the kill) with no answer');
  // Each client has one connection open at a time, and the listening socket (with the
  // connections queued on it) outlives the killed process: only a connection the killed front
  // end had accepted can fail, so at most one per client, and only as the kill lands.
  assert.ok(result.failures.length <= CLIENTS, `${result.failures.length} failures for ${CLIENTS} connections open at the kill`);
  for (const f of result.failures) assert.ok(f.at >= killedAt && f.at - killedAt < 2_000, `a failure ${f.at - killedAt} ms after the kill: ${JSON.stringify(f)}`);
  assert.deepEqual(await server.stop('SIGTERM', 15_000), { code: 0, signal: null });
});

test('a unix socket with 2 front ends: it serves, its mode follows --umask, and it is removed on TERM', { skip }, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'nodicorn-frontends-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const socket = path.join(dir, 'app.sock');
  const server = await withFrontends(t, 2, 2, ['-b', `unix:${socket}`, '--umask', '0o027'], { bind: false, listening: /Listening at: unix:/ });
  assert.equal(statSync(socket).mode & 0o777, 0o750, 'the socket\'s mode is 0777 less --umask 0o027');
  const frontends = frontendsOf(server.pid).map((f) => f.pid);
  const served = new Map();
  for (let i = 0; i < 20; i++) {
    const res = await unixGet(socket, '/');
    assert.equal(res.status, 200);
    const pid = Number(res.body.split(' ')[0]);
    assert.ok(frontends.includes(pid), `answered by a front end of this server (${pid})`);
    served.set(pid, (served.get(pid) ?? 0) + 1);
  }
  t.diagnostic(`20 requests over the unix socket: ${split(served)}`);
  assert.deepEqual(await server.stop('SIGTERM', 15_000), { code: 0, signal: null });
  assert.equal(existsSync(socket), false, 'the socket file is gone after TERM');
});

test('--frontends never runs more front ends than workers, auto with -w 2 runs one process, and a bad value is one error line', { skip }, async (t) => {
  const four = await withFrontends(t, 2, 4);
  assert.deepEqual(frontendsOf(four.pid).map((f) => `${f.index}/${f.count}`), ['1/2', '2/2'], '--frontends 4 -w 2: two front ends');
  assert.deepEqual(await four.stop('SIGTERM', 15_000), { code: 0, signal: null });

  // auto is ceil(min(workers, cores) / 4): with two workers, one on any machine.
  const auto = await serverFor(t, [...APP, '-w', '2', '--frontends', 'auto'], { waitWorkers: 2 });
  assert.equal(title(auto.pid), 'nodicorn: master [frontend_app:app]');
  assert.deepEqual(frontendsOf(auto.pid), [], 'no front-end process');
  assert.deepEqual(childPids(auto.pid).sort(), bootedPids(auto).sort(), 'the master is the workers\' parent');
  assert.deepEqual(await auto.stop('SIGTERM', 15_000), { code: 0, signal: null });

  for (const bad of ['0', 'lots']) {
    const r = await runCli([...APP, '--frontends', bad, '-b', '127.0.0.1:0']);
    assert.equal(r.code, 2, `--frontends ${bad}: ${r.stderr}`);
    const lines = r.stderr.split('\n').filter(Boolean);
    assert.equal(lines.length, 1, `one line:\n${r.stderr}`);
    assert.match(lines[0], new RegExp(`--frontends.*expected.*"${bad}"`));
  }
});

test('an app that cannot be imported, with --frontends 2: the same exit code and error line as with one process', { skip }, async () => {
  const args = ['import_error:app', '--chdir', APPS, '-w', '2', '-b', '127.0.0.1:0'];
  const [one, two] = await Promise.all([runCli(args), runCli([...args, '--frontends', '2'])]);
  const last = (r) => r.stderr.split('\n').filter(Boolean).at(-1);
  assert.equal(one.code, 4, one.stderr);
  assert.equal(two.code, one.code, two.stderr);
  assert.match(last(one), /^nodicorn: error: App failed to load: ModuleNotFoundError/);
  assert.equal(last(two), last(one), 'the last line, naming the error');
  assert.match(two.stderr, /Traceback \(most recent call last\)[\s\S]*ModuleNotFoundError: No module named 'nodicorn_test_module_that_does_not_exist'/);
  assert.ok((two.stderr.match(/Booting worker with pid/g) ?? []).length <= 4, 'the front ends do not respawn workers forever');
});
