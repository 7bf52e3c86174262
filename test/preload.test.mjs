// --preload: the app is imported once, by the zygote, and the workers are forked from it (Unix).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, bootedPids, isAlive, request, runCli, serverFor, waitUntil } from './helpers.mjs';
import { HOOKS, importPids as imports, tempDir } from './lib/records.mjs';
const answer = async (port, target = '/') => JSON.parse((await request(port, { path: target }, { timeout: 20_000 })).text());

/** Answers from `n` different workers (two requests at a time, each a little slow). */
async function distinctWorkers(port, n) {
  const seen = new Map();
  for (let i = 0; i < 15 && seen.size < n; i++) {
    const answers = await Promise.all([0, 1].map(() => answer(port, '/?sleep=0.3')));
    for (const a of answers) if (!seen.has(a.pid)) seen.set(a.pid, a);
  }
  return [...seen.values()];
}

test('--preload imports the app once; workers are forks of the zygote, replaced by fresh forks, reloaded by HUP', { skip: process.platform === 'win32' && 'fork does not exist on Windows' }, async (t) => {
  const record = path.join(tempDir(t), 'imports');
  const server = await serverFor(t, ['preload_app:app', '--chdir', HOOKS, '--preload', '-w', '2'], { env: { IMPORT_RECORD: record }, waitWorkers: 2 });
  const [zygote] = imports(record);
  assert.equal(imports(record).length, 1, 'one import');
  assert.notEqual(zygote, server.pid, 'the zygote is not Node');
  const workers = await distinctWorkers(server.port, 2);
  assert.equal(workers.length, 2);
  for (const w of workers) {
    assert.equal(w.ppid, zygote, `worker ${w.pid} is a fork of the zygote`);
    assert.ok(bootedPids(server).includes(w.pid));
  }

  // A worker killed with SIGKILL is replaced by a new fork.
  const victim = workers[0].pid;
  process.kill(victim, 'SIGKILL');
  await waitUntil(() => bootedPids(server).length >= 3, 20_000);
  const replacement = bootedPids(server)[2];
  assert.ok(!isAlive(victim) || replacement !== victim);
  const after = await distinctWorkers(server.port, 2);
  assert.ok(after.some((w) => w.pid === replacement), 'the replacement serves');
  for (const w of after) assert.equal(w.ppid, zygote);

  // HUP: a new generation of forks takes over; the app is still imported once.
  server.proc.kill('SIGHUP');
  await waitUntil(() => bootedPids(server).length >= 5, 20_000);
  const fresh = bootedPids(server).slice(3);
  await waitUntil(async () => fresh.includes((await answer(server.port)).pid), 20_000);
  const reloaded = await distinctWorkers(server.port, 2);
  assert.ok(reloaded.every((w) => fresh.includes(w.pid) && w.ppid === zygote), JSON.stringify(reloaded));
  assert.deepEqual(imports(record), [zygote], 'still one import');
  assert.equal((await server.stop()).code, 0);
  assert.ok(!isAlive(zygote), 'the zygote is gone after the stop');
});

test('--preload with hooks: the zygote runs the arbiter-side ones, post_fork reseeds each fork', async (t) => {
  const record = path.join(tempDir(t), 'imports');
  const hooks = path.join(tempDir(t), 'hooks.jsonl');
  const server = await serverFor(t, ['preload_app:app', '--chdir', HOOKS, '--preload', '-w', '2', '-c', path.join(HOOKS, 'every_hook.conf.py')], {
    env: { IMPORT_RECORD: record, HOOK_RECORD: hooks },
    waitWorkers: 2,
  });
  const [zygote] = imports(record);
  const workers = await distinctWorkers(server.port, 2);
  const recs = readFileSync(hooks, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  for (const r of recs.filter((r) => ['on_starting', 'when_ready', 'pre_fork'].includes(r.hook))) assert.equal(r.pid, zygote, `${r.hook} in the zygote`);
  const forks = recs.filter((r) => r.hook === 'post_fork');
  assert.equal(forks.length, 2);
  for (const r of forks) {
    assert.ok(workers.some((w) => w.pid === r.pid), 'post_fork ran in a worker');
    assert.equal(r.ppid, zygote);
    assert.equal(r.worker_ppid, server.pid, 'worker.ppid is the master (Node)');
  }
  assert.equal(imports(record).length, 1);
});

test('--preload: forks draw different random sequences (with the post_fork reseeding recipe)', async (t) => {
  const server = await serverFor(t, ['preload_app:app', '--chdir', HOOKS, '--preload', '-w', '2', '-c', path.join(HOOKS, 'recipes.conf.py')], {
    env: { IMPORT_RECORD: path.join(tempDir(t), 'imports'), PROMETHEUS_MULTIPROC_DIR: tempDir(t) },
    waitWorkers: 2,
  });
  const workers = await distinctWorkers(server.port, 2);
  assert.equal(workers.length, 2);
  assert.notEqual(workers[0].random, workers[1].random);
});

test('--preload: an app that does not import stops the start with exit 4', async (t) => {
  const result = await runCli(['import_error:app', '--chdir', path.join(ROOT, 'test', 'fixtures', 'apps'), '--preload', '-b', '127.0.0.1:0']);
  assert.equal(result.code, 4, result.stderr);
  assert.match(result.stderr, /App failed to load/);
});

test('--preload --user: the forks run as the user, the zygote stays as it started', { skip: (process.getuid?.() !== 0) && 'needs root to switch users' }, async (t) => {
  const dir = tempDir(t);
  const record = path.join(dir, 'imports');
  const server = await serverFor(t, ['preload_app:app', '--chdir', HOOKS, '--preload', '-w', '1', '--user', 'nobody'], { env: { IMPORT_RECORD: record }, waitWorkers: 1 });
  const [zygote] = imports(record);
  const worker = await answer(server.port);
  assert.equal(worker.ppid, zygote);
  assert.equal(worker.uid, 65534, 'the fork runs as nobody');
  assert.match(readFileSync(`/proc/${zygote}/status`, 'utf8'), /^Uid:\s+0\s/m, 'the zygote stays root, as gunicorn\'s master');
  assert.equal((await server.stop()).code, 0);
});
