// gunicorn's server hooks from a config file: each runs in the right process (arbiter-side ones
// in the one hook host, worker-side ones in the workers), in gunicorn's order, with the objects
// gunicorn passes; and the common recipes work.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { once } from 'node:events';
import { bootedPids, isAlive, request, runCli, serverFor, sleep, waitUntil } from './helpers.mjs';
import { HOOKS, hookRecords as records, tempDir } from './lib/records.mjs';
import { httpsRequest, makeCerts, tlsArgs } from './tls-helpers.mjs';

const ARBITER_SIDE = ['nworkers_changed', 'on_starting', 'when_ready', 'pre_fork', 'child_exit', 'on_reload', 'on_exit', 'ssl_context'];
const WORKER_SIDE = ['post_fork', 'post_worker_init', 'pre_request', 'post_request', 'worker_exit', 'worker_int', 'worker_abort'];

const indexOf = (recs, pred) => recs.findIndex(pred);

test('every hook runs in its process, in gunicorn order, with the objects it expects', async (t) => {
  const dir = tempDir(t);
  const record = path.join(dir, 'hooks.jsonl');
  const server = await serverFor(t, ['hooks_app:app', '--chdir', HOOKS, '-c', path.join(HOOKS, 'every_hook.conf.py'), '-w', '2', '--capture-output'], {
    env: { HOOK_RECORD: record },
    waitWorkers: 2,
  });
  const res = await request(server.port, { path: '/x/y?a=1', headers: [['X-Trace', 'abc']] });
  assert.equal(res.status, 200);
  const served = JSON.parse(res.text()).pid;
  // Each step waits for the workers of the one before to be up (post_worker_init, then READY).
  const initialised = async (n) => {
    await waitUntil(() => records(record).filter((r) => r.hook === 'post_worker_init').length >= n, 20_000);
    await sleep(500);
  };

  // HUP, then TTIN, then a worker gets SIGQUIT (worker_int), then TERM.
  await initialised(2);
  server.proc.kill('SIGHUP');
  await initialised(4);
  server.proc.kill('SIGTTIN');
  await initialised(5);
  const quitter = records(record).filter((r) => r.hook === 'post_worker_init').at(-1).pid;
  process.kill(quitter, 'SIGQUIT');
  await initialised(6);
  const exit = await server.stop();
  assert.equal(exit.code, 0);

  const recs = records(record);
  const names = new Set(recs.map((r) => r.hook));
  for (const hook of [...ARBITER_SIDE.filter((h) => h !== 'ssl_context'), ...WORKER_SIDE.filter((h) => h !== 'worker_abort')]) {
    assert.ok(names.has(hook), `${hook} ran`);
  }
  const workers = new Set(bootedPids(server));
  const node = server.pid;

  // Arbiter side: one host process, a child of Node, neither Node nor a worker.
  const hostPids = new Set(recs.filter((r) => ARBITER_SIDE.includes(r.hook)).map((r) => r.pid));
  assert.equal(hostPids.size, 1, `arbiter-side hooks ran in one process, got ${[...hostPids]}`);
  const [host] = hostPids;
  assert.notEqual(host, node);
  assert.ok(!workers.has(host), 'the hook host is not a worker');
  for (const r of recs.filter((r) => ARBITER_SIDE.includes(r.hook))) {
    assert.equal(r.ppid, node, `${r.hook}: the host is Node's child`);
    assert.equal(r.server_pid, node, `${r.hook}: server.pid is the master's (Node's) pid`);
    assert.equal(r.has_log, true);
    assert.equal(r.cfg_workers, 2, `${r.hook}: server.cfg.workers`);
  }
  // Worker side: in the workers the server reported, with worker.pid / ppid right.
  for (const r of recs.filter((r) => WORKER_SIDE.includes(r.hook))) {
    assert.ok(workers.has(r.pid), `${r.hook} ran in a worker (pid ${r.pid})`);
    assert.equal(r.worker_pid, r.pid, `${r.hook}: worker.pid`);
    assert.equal(r.ppid, node);
  }

  // Start-up order: nworkers_changed(2, None), on_starting, when_ready, then per worker
  // pre_fork (in the host, pid "[booting]"), post_fork, post_worker_init (in the worker).
  const first = (hook, extra = () => true) => indexOf(recs, (r) => r.hook === hook && extra(r));
  assert.deepEqual([recs[0].hook, recs[0].new, recs[0].old], ['nworkers_changed', 2, null]);
  assert.ok(first('on_starting') < first('when_ready'));
  assert.ok(first('when_ready') < first('pre_fork'));
  for (const age of [1, 2]) {
    const pre = first('pre_fork', (r) => r.age === age);
    const post = first('post_fork', (r) => r.age === age);
    const init = first('post_worker_init', (r) => r.age === age);
    assert.ok(pre >= 0 && pre < post && post < init, `age ${age}: pre_fork < post_fork < post_worker_init`);
    assert.equal(recs[pre].worker_pid, '[booting]');
    assert.equal(recs[init].has_app, true);
    assert.equal(recs[init].cfg_timeout, 30);
    assert.equal(recs[init].alive, true);
  }

  // The request: pre_request and post_request in the worker that served it.
  const pre = recs.find((r) => r.hook === 'pre_request');
  const post = recs.find((r) => r.hook === 'post_request');
  assert.equal(pre.pid, served);
  assert.deepEqual([pre.method, pre.path, pre.query, pre.uri, pre.version], ['GET', '/x/y', 'a=1', '/x/y?a=1', [1, 1]]);
  assert.ok(pre.headers.some(([k, v]) => k === 'X-TRACE' && v === 'abc'), JSON.stringify(pre.headers));
  assert.deepEqual([post.pid, post.path, post.path_info, post.status, post.status_code], [served, '/x/y', '/x/y', '200 OK', 200]);
  assert.ok(recs.indexOf(pre) < recs.indexOf(post));

  // HUP: nworkers_changed(2, 2), on_reload, then new workers (pre_fork ages 3 and 4).
  const reload = first('on_reload');
  assert.ok(reload > recs.indexOf(post));
  assert.deepEqual([recs[reload - 1].hook, recs[reload - 1].new, recs[reload - 1].old], ['nworkers_changed', 2, 2]);
  assert.ok(first('pre_fork', (r) => r.age === 3) > reload);
  // The old workers ran worker_exit, and the host ran child_exit for them.
  for (const age of [1, 2]) {
    const wexit = first('worker_exit', (r) => r.age === age);
    const cexit = first('child_exit', (r) => r.age === age);
    assert.ok(wexit > reload && cexit > wexit, `age ${age}: worker_exit then child_exit after the reload`);
  }
  // TTIN: nworkers_changed(3, 2) and one more worker.
  const ttin = first('nworkers_changed', (r) => r.new === 3);
  assert.equal(recs[ttin].old, 2);
  assert.ok(first('pre_fork', (r) => r.age === 5) > ttin);
  // SIGQUIT to a worker: worker_int in it, child_exit in the host, a replacement.
  const int = first('worker_int');
  assert.equal(recs[int].pid, quitter);
  assert.ok(first('child_exit', (r) => r.worker_pid === quitter) > int);
  // on_exit last, after every child_exit.
  assert.equal(recs.at(-1).hook, 'on_exit');
  assert.equal(recs.filter((r) => r.hook === 'child_exit').length, 6, 'child_exit for each of the six workers');
  assert.ok(server.stderrLines.some((l) => l.includes(`[${host}]`) && l.includes('when_ready says hello')), 'server.log lines carry the host pid');
});

test('recipes: pre_request logging, post_fork reseeding, hooks that raise are logged and the server keeps serving', async (t) => {
  // --capture-output: what the workers print (and log) reaches the error log with their pid.
  const server = await serverFor(t, ['hooks_app:app', '--chdir', HOOKS, '-c', path.join(HOOKS, 'recipes.conf.py'), '-w', '2', '--capture-output'], {
    env: { PROMETHEUS_MULTIPROC_DIR: tempDir(t) },
    waitWorkers: 2,
  });
  const seen = new Map();
  for (let i = 0; i < 10 && seen.size < 2; i++) {
    // Two at once, so that both workers answer.
    const answers = await Promise.all([0, 1].map(() => request(server.port, { path: '/random?sleep=0.3' })));
    for (const body of answers.map((r) => JSON.parse(r.text()))) if (!seen.has(body.pid)) seen.set(body.pid, body.random);
  }
  assert.equal(seen.size, 2, 'both workers answered');
  const [a, b] = [...seen.values()];
  assert.notDeepEqual(a, b, 'two workers draw different random sequences');
  const pid = [...seen.keys()][0];
  await waitUntil(() => server.stderrLines.some((l) => l.includes(`[${pid}]`) && l.includes('GET /random')));
  assert.ok(server.stderrLines.some((l) => l.includes(`[${pid}]`) && l.includes('GET /random')), 'pre_request logged with the worker pid');

  const refused = await request(server.port, { path: '/boom-pre' });
  assert.equal(refused.status, 500, 'pre_request raising fails that request');
  await waitUntil(() => server.stderrLines.some((l) => l.includes('pre_request refuses /boom-pre')));
  assert.ok(server.stderrLines.some((l) => l.includes('RuntimeError: pre_request refuses /boom-pre')), 'its traceback is logged');
  const after = await request(server.port, { path: '/boom-post' });
  assert.equal(after.status, 200, 'post_request raising does not change the response');
  await waitUntil(() => server.stderrLines.some((l) => l.includes('post_request fails after 200 OK')));
  assert.ok(server.stderrLines.some((l) => l.includes('Exception in post_request hook')));
  const ok = await request(server.port, { path: '/' });
  assert.equal(ok.status, 200, 'the server keeps serving');
  assert.equal(server.exitInfo, null);
});

test('worker_abort logs the stack of a timed-out request, then the worker is replaced', async (t) => {
  const server = await serverFor(t, ['hooks_app:app', '--chdir', HOOKS, '-c', path.join(HOOKS, 'recipes.conf.py'), '-w', '1', '--timeout', '2', '--capture-output'], {
    env: { PROMETHEUS_MULTIPROC_DIR: tempDir(t) },
    waitWorkers: 1,
  });
  const pid = JSON.parse((await request(server.port, { path: '/' })).text()).pid;
  const res = await request(server.port, { path: '/hang' }, { timeout: 20_000 });
  assert.equal(res.status, 504);
  await waitUntil(() => server.stderrLines.some((l) => l.includes(`[${pid}]`) && /hooks_app\.py.*line \d+ in app/.test(l)), 10_000);
  assert.ok(server.stderrLines.some((l) => l.includes(`[${pid}]`) && l.includes(`worker ${pid} aborted`)), 'worker_abort ran in the worker');
  assert.ok(server.stderrLines.some((l) => l.includes(`[${pid}]`) && /hooks_app\.py.*line \d+ in app/.test(l)), 'the hung frame is in the logged stack');
  // Node's own dump comes first, then the hook, then the kill.
  const dumpAt = server.stderrLines.findIndex((l) => l.includes(`WORKER TIMEOUT: stacks of worker ${pid} (running GET /hang)`));
  const abortAt = server.stderrLines.findIndex((l) => l.includes(`worker ${pid} aborted`));
  assert.ok(dumpAt >= 0 && dumpAt < abortAt, `the stack dump is logged before worker_abort runs:\n${server.stderrLines.join('\n')}`);
  await waitUntil(() => !isAlive(pid));
  const next = await request(server.port, { path: '/' }, { timeout: 20_000 });
  assert.equal(next.status, 200);
  assert.notEqual(JSON.parse(next.text()).pid, pid);
});

test('child_exit: prometheus_client multiprocess mode removes a dead worker\'s live gauge file', async (t) => {
  const metrics = tempDir(t);
  const server = await serverFor(t, ['hooks_app:app', '--chdir', HOOKS, '-c', path.join(HOOKS, 'recipes.conf.py'), '-w', '2'], {
    env: { PROMETHEUS_MULTIPROC_DIR: metrics },
    waitWorkers: 2,
  });
  const pids = new Set();
  for (let i = 0; i < 10 && pids.size < 2; i++) {
    const answers = await Promise.all([0, 1].map(() => request(server.port, { path: '/gauge?sleep=0.3' })));
    for (const r of answers) pids.add(JSON.parse(r.text()).pid);
  }
  assert.equal(pids.size, 2);
  const [victim, survivor] = [...pids];
  const file = (pid) => `gauge_livesum_${pid}.db`;
  assert.ok(readdirSync(metrics).includes(file(victim)) && readdirSync(metrics).includes(file(survivor)), readdirSync(metrics).join(' '));
  process.kill(victim, 'SIGKILL');
  await waitUntil(() => !readdirSync(metrics).includes(file(victim)), 10_000);
  assert.ok(!readdirSync(metrics).includes(file(victim)), 'the dead worker\'s file is gone');
  assert.ok(readdirSync(metrics).includes(file(survivor)), 'the live worker\'s file stays');
});

test('ssl_context: the context the hook returns serves HTTPS, with its minimum_version', async (t) => {
  const certs = makeCerts();
  t.after(() => certs.cleanup());
  const dir = tempDir(t);
  const conf = path.join(dir, 'tls.conf.py');
  writeFileSync(conf, [
    'import ssl',
    'def ssl_context(conf, default_ssl_context_factory):',
    '    context = default_ssl_context_factory()',
    '    context.minimum_version = ssl.TLSVersion.TLSv1_3',
    '    return context',
  ].join('\n') + '\n');
  const server = await serverFor(t, ['hooks_app:app', '--chdir', HOOKS, '-c', conf, ...tlsArgs(certs)]);
  const res = await httpsRequest(server.port, { ca: certs.ca });
  assert.equal(res.status, 200);
  // A TLS 1.2 client is refused: the hook's minimum_version reached Node.
  const socket = tls.connect({ port: server.port, host: '127.0.0.1', ca: certs.ca, servername: 'localhost', maxVersion: 'TLSv1.2' });
  const [err] = await once(socket, 'error');
  assert.match(String(err.code ?? err.message), /VERSION|ALERT|PROTOCOL/i);

  // What Node cannot do with a context is refused in one line.
  writeFileSync(conf, [
    'def ssl_context(conf, default_ssl_context_factory):',
    '    context = default_ssl_context_factory()',
    '    context.sni_callback = lambda *a: None',
    '    return context',
  ].join('\n') + '\n');
  const refused = await runCli(['hooks_app:app', '--chdir', HOOKS, '-c', conf, ...tlsArgs(certs), '-b', '127.0.0.1:0']);
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /nodicorn: error: ssl_context: an SNI callback cannot run in Node/);
});

test('a start-up hook that raises stops the start; a hook with the wrong arity is one config error', async (t) => {
  const dir = tempDir(t);
  const conf = path.join(dir, 'bad.conf.py');
  writeFileSync(conf, 'def on_starting(server):\n    raise ValueError("no start today")\n');
  const raised = await runCli(['hooks_app:app', '--chdir', HOOKS, '-c', conf, '-b', '127.0.0.1:0']);
  assert.equal(raised.code, 1, raised.stderr);
  assert.match(raised.stderr, /ValueError: no start today/);
  assert.match(raised.stderr, /the on_starting hook failed/);

  writeFileSync(conf, 'def post_fork(worker):\n    pass\n');
  const arity = await runCli(['hooks_app:app', '--chdir', HOOKS, '-c', conf, '-b', '127.0.0.1:0']);
  assert.equal(arity.code, 2, arity.stderr);
  assert.match(arity.stderr, /nodicorn: error: .*post_fork must take 2 positional arguments/);
});

test('a config without hooks starts no hook host', async (t) => {
  const dir = tempDir(t);
  const conf = path.join(dir, 'plain.conf.py');
  writeFileSync(conf, 'workers = 1\n');
  const server = await serverFor(t, ['hooks_app:app', '--chdir', HOOKS, '-c', conf], { waitWorkers: 1 });
  await sleep(300);
  const children = readFileSync(`/proc/${server.pid}/task/${server.pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
  assert.deepEqual(children, bootedPids(server), 'Node\'s only children are the workers');
});

test('QUIT to the master: each worker gets SIGQUIT and runs worker_int, as under gunicorn', async (t) => {
  const record = path.join(tempDir(t), 'hooks.jsonl');
  const server = await serverFor(t, ['hooks_app:app', '--chdir', HOOKS, '-c', path.join(HOOKS, 'every_hook.conf.py'), '-w', '2'], {
    env: { HOOK_RECORD: record },
    waitWorkers: 2,
  });
  await waitUntil(() => records(record).filter((r) => r.hook === 'post_worker_init').length >= 2, 20_000);
  await sleep(500);
  const exit = await server.stop('SIGQUIT');
  assert.equal(exit.code, 0);
  const recs = records(record);
  const workers = bootedPids(server);
  const ints = recs.filter((r) => r.hook === 'worker_int').map((r) => r.pid).sort();
  assert.deepEqual(ints, [...workers].sort(), 'worker_int ran in each worker');
  assert.equal(recs.at(-1).hook, 'on_exit');
});

test('a hook given as an import string ("module.function") runs, as gunicorn takes it', async (t) => {
  const dir = tempDir(t);
  const record = path.join(dir, 'hooks.jsonl');
  const server = await serverFor(t, ['hooks_app:app', '-c', 'string_hooks.conf.py', '-w', '1', '--capture-output'], {
    cwd: HOOKS,
    env: { HOOK_RECORD: record },
    waitWorkers: 1,
  });
  assert.equal((await request(server.port, { path: '/' })).status, 200);
  await waitUntil(() => records(record).length >= 2, 20_000);
  const recs = records(record);
  const worker = recs.find((r) => r.hook === 'post_fork');
  const ready = recs.find((r) => r.hook === 'when_ready');
  assert.ok(worker && bootedPids(server).includes(worker.pid), `post_fork ran in a worker: ${JSON.stringify(recs)}`);
  assert.ok(ready && ready.pid !== server.proc.pid && !bootedPids(server).includes(ready.pid), `when_ready ran in the hook host: ${JSON.stringify(recs)}`);
});

test('a hook import string that names nothing is one config error line, exit 2', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'nodicorn-hooks-'));
  try {
    writeFileSync(path.join(dir, 'bad.conf.py'), "post_fork = 'no_such_module_here.post_fork'\n");
    const r = await runCli(['hooks_app:app', '--chdir', HOOKS, '-c', path.join(dir, 'bad.conf.py'), '--check-config']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /post_fork: cannot import 'no_such_module_here\.post_fork'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
