// --reload and SIGHUP: a new generation of workers takes over only once it has booted; a
// broken app keeps the old workers serving. Each test copies its app into a temp dir.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RawClient, bootedPids, buildRequest, isAlive, request, runCli, serverFor, sleep, waitUntil } from './helpers.mjs';

/** app.py answers with the word in words.py and the first line of extra.txt; /pid with its pid. */
const APP = `import os
import time

import words

with open('extra.txt') as f:
    EXTRA = f.readline().strip()


def app(environ, start_response):
    if environ['PATH_INFO'] == '/pid':
        time.sleep(0.2)
        body = str(os.getpid()).encode()
    else:
        body = ('%s %s' % (words.WORD, EXTRA)).encode()
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
    return [body]
`;

function appDir(t, word = 'one', extra = 'plain') {
  const dir = mkdtempSync(path.join(tmpdir(), 'nodicorn-reload-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'app.py'), APP);
  setWord(dir, word);
  writeFileSync(path.join(dir, 'extra.txt'), `${extra}\n`);
  return dir;
}

function setWord(dir, word) {
  writeFileSync(path.join(dir, 'words.py'), `WORD = ${JSON.stringify(word)}\n`);
}

async function answer(port) {
  const res = await request(port, { path: '/' });
  assert.equal(res.status, 200, res.text());
  return res.text();
}

/**
 * Waits until both workers answer (two slow requests at once land on two pids): the Listening
 * line comes while they boot, and an edit then would break the first boot, which is fatal.
 */
async function bothReady(port) {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const pids = await Promise.all([0, 1].map(() => request(port, { path: '/pid' }).then((r) => r.text())));
    if (pids[0] !== pids[1]) return;
  }
  throw new Error('two workers never answered at once');
}

/** GETs until the answer is `want` (or `ms` pass); returns the last answer. */
async function answerBecomes(port, want, ms = 10_000) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    last = await answer(port);
    if (last === want) return last;
    await sleep(50);
  }
  return last;
}

/**
 * Load until `stop(results)` is true: one client on a keep-alive connection and one opening a new
 * connection per request, each one request at a time, at most `max` requests each. Resolves
 * every response.
 */
function load(port, stop, max = 3_000) {
  const results = [];
  const record = (res, how) => results.push({ status: res.status, text: res.text(), at: Date.now(), how });
  const keepAlive = (async () => {
    const client = await RawClient.connect(port);
    try {
      for (let i = 0; i < max && !stop(results); i++) {
        await client.write(buildRequest({ path: '/' }));
        record(await client.readResponse({ timeout: 10_000 }), 'keep-alive');
      }
    } finally {
      client.close();
    }
  })();
  const fresh = (async () => {
    for (let i = 0; i < max && !stop(results); i++) record(await request(port, { path: '/' }, { timeout: 10_000 }), 'new connection');
  })();
  return Promise.all([keepAlive, fresh]).then(() => results);
}

const SERVER_ARGS = ['app:app', '--reload', '-w', '2'];

test('--reload: an edit under load is served by the new code within seconds, and every request gets a 200', async (t) => {
  const dir = appDir(t);
  const server = await serverFor(t, [...SERVER_ARGS, '--chdir', dir], { waitWorkers: 2 });
  await bothReady(server.port);
  assert.equal(await answer(server.port), 'one plain');
  const old = bootedPids(server);

  let editedAt = 0;
  const started = Date.now();
  // Until both clients have seen the new code for half a second, or 20 s.
  const running = load(server.port, (results) => {
    if (Date.now() - started > 20_000) return true;
    const fresh = results.filter((r) => r.text === 'two plain');
    return ['keep-alive', 'new connection'].every((how) => fresh.some((r) => r.how === how && Date.now() - r.at > 500));
  });
  await sleep(500);
  editedAt = Date.now();
  setWord(dir, 'two');
  const all = await running;

  const bad = all.filter((r) => r.status !== 200);
  assert.deepEqual(bad, [], 'every request during the reload got a 200');
  const first = all.find((r) => r.text === 'two plain');
  assert.ok(first, `the new code answered:\n${server.stderrText()}`);
  for (const how of ['keep-alive', 'new connection']) {
    // Each client sends its next request only after the answer: once it saw the new code, the
    // new generation had taken over, so the old code must never answer it again.
    const mine = all.filter((r) => r.how === how);
    const at = mine.findIndex((r) => r.text === 'two plain');
    assert.ok(at >= 0, `${how} reached the new code`);
    assert.deepEqual(mine.slice(at).filter((r) => r.text !== 'two plain'), [], `${how}: the old code answered after the new one`);
  }
  assert.ok(all.filter((r) => r.at < editedAt).every((r) => r.text === 'one plain'));
  const took = first.at - editedAt;
  t.diagnostic(`new code answered ${took} ms after the edit; ${all.length} requests, all 200`);
  assert.ok(took < 8_000, `the new code answered ${took} ms after the edit`);
  await waitUntil(() => old.every((pid) => !isAlive(pid)), 5_000);
  for (const pid of old) assert.equal(isAlive(pid), false, `old worker ${pid} exited`);
});

test('--reload: a syntax error keeps the old code answering and logs the traceback; fixing the file reloads', async (t) => {
  const dir = appDir(t);
  const server = await serverFor(t, [...SERVER_ARGS, '--chdir', dir], { waitWorkers: 2 });
  await bothReady(server.port);
  assert.equal(await answer(server.port), 'one plain');
  const old = bootedPids(server);

  const mark = server.stderrLines.length;
  writeFileSync(path.join(dir, 'words.py'), 'WORD = (\n');
  await server.waitStderr(/Reload failed: worker \d+ failed to boot \(SyntaxError/, 15_000, mark);
  const log = server.stderrLines.slice(mark).join('\n');
  assert.match(log, /Exception in worker process \d+:\nTraceback \(most recent call last\):/);
  assert.match(log, /File ".*words\.py", line 1/);
  assert.match(log, /SyntaxError: /);
  for (let i = 0; i < 20; i++) assert.equal(await answer(server.port), 'one plain');
  for (const pid of old) assert.equal(isAlive(pid), true, `old worker ${pid} still serves`);
  assert.equal(server.exitInfo, null);

  setWord(dir, 'fixed');
  assert.equal(await answerBecomes(server.port, 'fixed plain'), 'fixed plain');
  await waitUntil(() => old.every((pid) => !isAlive(pid)), 5_000);
  for (const pid of old) assert.equal(isAlive(pid), false, `old worker ${pid} exited after the good reload`);
});

test('--reload: creating the module the app failed to import reloads', async (t) => {
  const dir = appDir(t);
  const server = await serverFor(t, [...SERVER_ARGS, '--chdir', dir], { waitWorkers: 2 });
  await bothReady(server.port);
  assert.equal(await answer(server.port), 'one plain');
  const mark = server.stderrLines.length;
  writeFileSync(path.join(dir, 'words.py'), 'from wordlist import WORD\n');
  await server.waitStderr(/Reload failed: .*ModuleNotFoundError/, 15_000, mark);
  assert.equal(await answer(server.port), 'one plain');
  // Creating the missing module is the fix: a new .py file in the app's directory reloads.
  writeFileSync(path.join(dir, 'wordlist.py'), 'WORD = "listed"\n');
  assert.equal(await answerBecomes(server.port, 'listed plain'), 'listed plain');
});

test('--reload-extra-file: a change to it reloads; a file next to it does not', async (t) => {
  const dir = appDir(t);
  writeFileSync(path.join(dir, 'other.txt'), 'x\n');
  const server = await serverFor(t, [...SERVER_ARGS, '--chdir', dir, '--reload-extra-file', path.join(dir, 'extra.txt')], { waitWorkers: 2 });
  await bothReady(server.port);
  assert.equal(await answer(server.port), 'one plain');
  const mark = server.stderrLines.length;
  writeFileSync(path.join(dir, 'other.txt'), 'y\n');
  await sleep(1_000);
  assert.equal(server.stderrLines.slice(mark).filter((l) => /Reloading/.test(l)).length, 0, 'an unwatched file changed nothing');
  writeFileSync(path.join(dir, 'extra.txt'), 'fancy\n');
  assert.equal(await answerBecomes(server.port, 'one fancy'), 'one fancy');
  assert.match(server.stderrLines.slice(mark).join('\n'), /Reloading: .*extra\.txt modified/);
});

test('--reload-engine poll: an edit reloads by polling', async (t) => {
  const dir = appDir(t);
  const server = await serverFor(t, [...SERVER_ARGS, '--chdir', dir, '--reload-engine', 'poll'], { waitWorkers: 2 });
  await bothReady(server.port);
  assert.equal(await answer(server.port), 'one plain');
  await sleep(300);
  const editedAt = Date.now();
  setWord(dir, 'polled');
  assert.equal(await answerBecomes(server.port, 'polled plain'), 'polled plain');
  t.diagnostic(`poll: new code answered ${Date.now() - editedAt} ms after the edit`);
});

test('SIGHUP with a broken app keeps the old workers serving; a later HUP with the app fixed swaps them', async (t) => {
  const dir = appDir(t);
  const server = await serverFor(t, ['app:app', '-w', '2', '--chdir', dir], { waitWorkers: 2 });
  await bothReady(server.port);
  assert.equal(await answer(server.port), 'one plain');
  const old = bootedPids(server);

  writeFileSync(path.join(dir, 'words.py'), 'raise RuntimeError("broken on purpose")\n');
  let mark = server.stderrLines.length;
  const during = load(server.port, () => server.stderrLines.slice(mark).some((l) => /Reload failed/.test(l)), 2_000);
  await sleep(200);
  server.proc.kill('SIGHUP');
  await server.waitStderr(/Reload failed: worker \d+ failed to boot \(RuntimeError: .*broken on purpose/, 15_000, mark);
  const results = await during;
  assert.deepEqual(results.filter((r) => r.status !== 200 || r.text !== 'one plain'), [], 'the old workers answered every request');
  assert.match(server.stderrLines.slice(mark).join('\n'), /RuntimeError: broken on purpose/);
  for (const pid of old) assert.equal(isAlive(pid), true);
  assert.equal(await answer(server.port), 'one plain');

  setWord(dir, 'hup');
  mark = server.stderrLines.length;
  server.proc.kill('SIGHUP');
  await server.waitStderr(/Reload: 2 new workers serve/, 15_000, mark);
  assert.equal(await answer(server.port), 'hup plain');
  await waitUntil(() => old.every((pid) => !isAlive(pid)), 5_000);
  for (const pid of old) assert.equal(isAlive(pid), false);
  assert.equal(bootedPids(server).length, 6, 'two generations booted after the first, the failed one included');
});

test('--reload-extra-file that does not exist, and a bad --reload-engine: one line, exit 2', async () => {
  const missing = await runCli(['app:app', '--reload', '--reload-extra-file', '/nonexistent/nodicorn-extra.txt']);
  assert.equal(missing.code, 2, missing.stderr);
  assert.match(missing.stderr, /--reload-extra-file: expected an existing file or a glob pattern, got "\/nonexistent\/nodicorn-extra\.txt"/);
  const engine = await runCli(['app:app', '--reload', '--reload-engine', 'watchman']);
  assert.equal(engine.code, 2, engine.stderr);
  assert.match(engine.stderr, /--reload-engine/);
});

test('--reload-extra-file with a glob pattern, relative to the start directory: a file it comes to match is watched; its edit reloads, its creation does not', async (t) => {
  const dir = appDir(t);
  mkdirSync(path.join(dir, 'conf'));
  writeFileSync(path.join(dir, 'conf', 'a.txt'), 'a\n');
  const server = await serverFor(t, [...SERVER_ARGS, '--reload-extra-file', 'conf/*.txt'], { cwd: dir, waitWorkers: 2 });
  await bothReady(server.port);
  const mark = server.stderrLines.length;
  const late = path.join(dir, 'conf', 'late.txt');
  // Whole at once (a rename), so the pattern never sees it half written.
  writeFileSync(path.join(dir, 'late.tmp'), 'created\n');
  renameSync(path.join(dir, 'late.tmp'), late);
  await sleep(2_000);
  assert.deepEqual(server.stderrLines.slice(mark).filter((l) => /Reloading/.test(l)), [], 'creating a matching file does not reload');
  writeFileSync(late, 'edited\n');
  await server.waitStderr(/Reloading: .*conf\/late\.txt modified/, 10_000, mark);
  await server.waitStderr(/Reload: 2 new workers serve/, 15_000, mark);
  assert.equal(await answer(server.port), 'one plain');
});

test('--reload with --preload says in one line that they do not go together', async (t) => {
  const dir = appDir(t);
  const server = await serverFor(t, [...SERVER_ARGS, '--preload', '--chdir', dir]);
  await server.waitStderr(/--reload is incompatible with --preload/, 10_000, 0);
  assert.equal(server.stderrLines.filter((l) => /incompatible with --preload/.test(l)).length, 1);
});

test('SIGHUP: a generation that does not boot within --timeout is killed and the old workers keep serving', async (t) => {
  const dir = appDir(t);
  const server = await serverFor(t, ['app:app', '-w', '2', '--timeout', '2', '--chdir', dir], { waitWorkers: 2 });
  await bothReady(server.port);
  writeFileSync(path.join(dir, 'words.py'), 'import time\ntime.sleep(60)\nWORD = "never"\n');
  const mark = server.stderrLines.length;
  server.proc.kill('SIGHUP');
  await server.waitStderr(/Reload failed: the new workers did not boot within --timeout \(2 s\); the old workers keep serving/, 15_000, mark);
  const hung = bootedPids(server).slice(2);
  assert.equal(hung.length, 2);
  assert.equal(await answer(server.port), 'one plain');
  await waitUntil(() => hung.every((pid) => !isAlive(pid)), 5_000);
  for (const pid of hung) assert.equal(isAlive(pid), false, `the hung worker ${pid} was killed`);
});

function lineIndex(server, re, from) {
  return server.stderrLines.findIndex((l, i) => i >= from && re.test(l));
}

test('TTIN and TTOU while a generation boots: the size they set holds once it takes over', async (t) => {
  const dir = appDir(t);
  // Each boot takes two seconds, so the signals land while the new generation boots.
  writeFileSync(path.join(dir, 'words.py'), 'import time\ntime.sleep(2)\nWORD = "slow"\n');
  const server = await serverFor(t, ['app:app', '-w', '2', '--chdir', dir], { waitWorkers: 2 });
  await bothReady(server.port);
  const distinctPids = async (n) => new Set(await Promise.all(Array.from({ length: n }, () => request(server.port, { path: '/pid' }).then((r) => r.text())))).size;

  let mark = server.stderrLines.length;
  server.proc.kill('SIGHUP');
  await sleep(100);
  server.proc.kill('SIGTTIN');
  await server.waitStderr(/number of workers: 3/, 5_000, mark);
  await server.waitStderr(/Reload: 2 new workers serve/, 15_000, mark);
  assert.ok(lineIndex(server, /number of workers: 3/, mark) < lineIndex(server, /Reload: 2 new workers serve/, mark), 'TTIN came while the generation booted');
  let three = 0;
  for (let i = 0; i < 40 && three < 3; i++) three = await distinctPids(3);
  assert.equal(three, 3, 'three workers answer at once after TTIN during the reload');

  mark = server.stderrLines.length;
  server.proc.kill('SIGHUP');
  await sleep(100);
  // One at a time: two signals of a kind sent at once may arrive as one.
  server.proc.kill('SIGTTOU');
  await server.waitStderr(/number of workers: 2/, 5_000, mark);
  server.proc.kill('SIGTTOU');
  await server.waitStderr(/number of workers: 1/, 5_000, mark);
  await server.waitStderr(/Reload: 3 new workers serve/, 15_000, mark);
  assert.ok(lineIndex(server, /number of workers: 1/, mark) < lineIndex(server, /Reload: 3 new workers serve/, mark), 'TTOU came while the generation booted');
  await sleep(500);
  assert.equal(await distinctPids(3), 1, 'one worker left after two TTOU during the reload');
  assert.equal(await answer(server.port), 'slow plain');
});

test('--reload with an app that fails to boot at start: the server stays up, answers 503, and the fix reloads', async (t) => {
  const dir = appDir(t);
  writeFileSync(path.join(dir, 'words.py'), 'WORD = (\n');
  const server = await serverFor(t, [...SERVER_ARGS, '--chdir', dir]);
  await server.waitStderr(/Worker failed to boot \(pid \d+ exited with code \d+\); the server reloads on the next change/, 15_000, 0);
  assert.match(server.stderrText(), /SyntaxError/);
  const res = await request(server.port, { path: '/' });
  assert.equal(res.status, 503);
  assert.equal(server.exitInfo, null);
  setWord(dir, 'fixed');
  let last;
  for (const deadline = Date.now() + 15_000; Date.now() < deadline; await sleep(100)) {
    last = await request(server.port, { path: '/' });
    if (last.status !== 503) break;
  }
  assert.equal(last.status, 200);
  assert.equal(last.text(), 'fixed plain');
});

test('without --reload, an app that fails to boot at start still exits', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'nodicorn-reload-'));
  try {
    writeFileSync(path.join(dir, 'app.py'), 'def app(:\n');
    const run = await runCli(['app:app', '--chdir', dir, '--bind', '127.0.0.1:0']);
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /SyntaxError/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
