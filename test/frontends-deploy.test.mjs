// gunicorn's deployment features with several front ends (--frontends 2): the server-level hooks
// run once, in the master's hook host; the others in each front end's, for its own workers, which
// see the whole server; --preload gives each front end its own zygote; --reload, --daemon and
// --pidfile act on the whole server; the tutorial's nginx deployment runs unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { chmodSync, chownSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { APPS, CLI, PYTHON, bootedPids, childPids, credentials, isAlive, request, runCli, serverFor, sleep, startListening, waitUntil } from './helpers.mjs';
import { DJANGO_DIR, EXPECTED, ROOT_USER, adminDatabase, nginxSkip, serverArgs, startNginx, walkAdmin } from './lib/nginx-deploy.mjs';
import { HOOKS, hookRecords, importPids, tempDir } from './lib/records.mjs';
import { pythonAs, userIds } from './lib/users.mjs';
import { httpsRequest, makeCerts, tlsArgs } from './tls-helpers.mjs';

const LINUX = process.platform === 'linux';
const PY = PYTHON ?? 'python3';
const EVERY_HOOK = path.join(HOOKS, 'every_hook.conf.py');

/** The front ends' pids, from their "Front end i of n (pid: N)" lines, by index. */
function frontendPids(lines) {
  const pids = [];
  for (const line of lines) {
    const m = /Front end (\d+) of \d+ \(pid: (\d+)\)/.exec(line);
    if (m) pids[Number(m[1]) - 1] = Number(m[2]);
  }
  return pids;
}

/** The parent pid of a live process (Linux /proc). */
function parentOf(pid) {
  return Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
}

/** `pid` and every process below it, now (Linux /proc). */
function tree(pid) {
  const all = [pid];
  for (let i = 0; i < all.length; i++) {
    try {
      all.push(...childPids(all[i]));
    } catch {
      // gone meanwhile
    }
  }
  return all;
}

test('hooks with -w 3 --frontends 2: the server-level ones once in the master, the others per worker in its front end', { skip: !LINUX && 'reads /proc' }, async (t) => {
  const record = path.join(tempDir(t), 'hooks.jsonl');
  const server = await serverFor(t, ['hooks_app:app', '--chdir', HOOKS, '-c', EVERY_HOOK, '-w', '3', '--frontends', '2'], {
    env: { HOOK_RECORD: record },
    waitWorkers: 3,
  });
  const master = server.pid;
  const recs = () => hookRecords(record);
  const named = (hook, pred = () => true) => recs().filter((r) => r.hook === hook && pred(r));
  // Each step waits for the workers of the one before to be up, and for the old ones' child_exit.
  const settled = async (inits, exits) => {
    await waitUntil(() => named('post_worker_init').length >= inits && named('child_exit').length >= exits, 30_000);
    await sleep(500);
  };
  await settled(3, 0);
  const frontends = frontendPids(server.stderrLines);
  assert.equal(frontends.length, 2);
  for (const pid of frontends) assert.equal(parentOf(pid), master, 'each front end is a child of the master');

  // The server-level hooks: once, in one host, the master's child.
  const [starting] = named('on_starting');
  assert.equal(named('on_starting').length, 1);
  assert.equal(named('when_ready').length, 1);
  const masterHost = starting.pid;
  assert.equal(starting.ppid, master);
  assert.ok(!frontends.includes(masterHost));
  assert.deepEqual(named('when_ready').map((r) => [r.pid, r.num_workers, r.cfg_workers]), [[masterHost, 3, 3]]);
  assert.deepEqual(named('nworkers_changed').map((r) => [r.pid, r.new, r.old]), [[masterHost, 3, null]]);
  const order = recs().map((r) => r.hook);
  assert.ok(order.indexOf('when_ready') < order.indexOf('pre_fork'), 'gunicorn\'s order: when_ready, then the workers');

  // pre_fork: in the hook host of the front end that runs the worker; post_fork and
  // post_worker_init in the worker, the front end's child; all see the whole server.
  const firstWorkers = bootedPids(server);
  assert.equal(firstWorkers.length, 3);
  const hostOf = new Map();
  for (const r of named('pre_fork')) {
    assert.ok(frontends.includes(r.ppid), `pre_fork ran in a front end's hook host (ppid ${r.ppid})`);
    assert.notEqual(r.pid, masterHost);
    assert.deepEqual([r.worker_pid, r.server_pid, r.num_workers, r.cfg_workers], ['[booting]', master, 3, 3], 'pre_fork sees the whole server');
    hostOf.set(r.ppid, r.pid);
  }
  assert.equal(named('pre_fork').length, 3);
  assert.equal(hostOf.size, 2, 'each front end has its own hook host');
  const frontendOf = new Map();
  for (const r of named('post_fork')) {
    assert.ok(firstWorkers.includes(r.pid), `post_fork ran in a worker (${r.pid})`);
    assert.ok(frontends.includes(r.ppid), 'the worker is its front end\'s child');
    assert.deepEqual([r.server_pid, r.worker_ppid, r.num_workers, r.cfg_workers], [master, master, 3, 3], 'server.pid and worker.ppid are the master\'s');
    frontendOf.set(r.pid, r.ppid);
  }
  assert.equal(frontendOf.size, 3);
  assert.deepEqual(named('post_worker_init').map((r) => r.pid).sort(), [...firstWorkers].sort());
  assert.deepEqual([...frontendOf.values()].map((fe) => frontends.indexOf(fe)).sort(), [0, 0, 1], 'front end 1 runs two workers, front end 2 one');
  for (const fe of frontends) {
    assert.equal(named('pre_fork', (r) => r.ppid === fe).length, [...frontendOf.values()].filter((p) => p === fe).length, 'pre_fork once per worker of that front end');
  }

  // HUP: nworkers_changed(3, 3) and on_reload once, in the master; every worker is replaced,
  // the old ones run worker_exit, their front end's host child_exit.
  server.proc.kill('SIGHUP');
  await settled(6, 3);
  assert.deepEqual(named('on_reload').map((r) => [r.pid, r.server_pid, r.num_workers]), [[masterHost, master, 3]]);
  assert.deepEqual(named('nworkers_changed').map((r) => [r.pid, r.new, r.old]), [[masterHost, 3, null], [masterHost, 3, 3]]);
  for (const pid of firstWorkers) {
    const exits = named('child_exit', (r) => r.worker_pid === pid);
    assert.equal(exits.length, 1, `child_exit once for ${pid}`);
    assert.equal(exits[0].pid, hostOf.get(frontendOf.get(pid)), `child_exit for ${pid} in its front end's hook host`);
    assert.deepEqual(named('worker_exit', (r) => r.worker_pid === pid).map((r) => r.pid), [pid], `worker_exit in ${pid}`);
  }

  // TTIN: nworkers_changed(4, 3) once, from the master; one worker more, whose pre_fork sees 4.
  server.proc.kill('SIGTTIN');
  await settled(7, 3);
  assert.deepEqual(named('nworkers_changed', (r) => r.new === 4).map((r) => [r.pid, r.ppid, r.old, r.server_pid]), [[masterHost, master, 3, master]]);
  assert.equal(named('nworkers_changed').length, 3);
  const grown = named('pre_fork').at(-1);
  assert.equal(named('pre_fork').length, 7);
  assert.equal(grown.num_workers, 4);
  assert.equal(grown.ppid, frontends[1], 'the front end with fewer workers grew');
  assert.equal(bootedPids(server).length, 7);

  const exit = await server.stop();
  assert.equal(exit.code, 0);
  const all = recs();
  assert.equal(all.at(-1).hook, 'on_exit', 'on_exit last');
  assert.deepEqual(named('on_exit').map((r) => [r.pid, r.num_workers]), [[masterHost, 4]]);
  assert.equal(named('child_exit').length, 7, 'child_exit for each of the seven workers');
  for (const hook of ['on_starting', 'when_ready', 'on_reload', 'nworkers_changed', 'on_exit']) {
    assert.ok(named(hook).every((r) => r.pid === masterHost), `${hook} only in the master's hook host`);
  }
  for (const hook of ['pre_fork', 'child_exit']) assert.ok(named(hook).every((r) => frontends.includes(r.ppid)), `${hook} only in the front ends' hosts`);
});

test('--frontends 2: a request sent as "Listening at" is logged waits for the workers instead of being refused', async (t) => {
  const server = await serverFor(t, ['hello_app:app', '--chdir', APPS, '-w', '2', '--frontends', '2']);
  const res = await request(server.port, { path: '/' }, { timeout: 30_000 });
  assert.equal(res.status, 200);
});

test('ssl_context with --frontends 2: each front end serves HTTPS with the context the hook returned', async (t) => {
  const certs = makeCerts();
  t.after(() => certs.cleanup());
  const dir = tempDir(t);
  const record = path.join(dir, 'ssl.jsonl');
  const conf = path.join(dir, 'tls.conf.py');
  writeFileSync(conf, [
    'import json, os, ssl',
    'def ssl_context(conf, default_ssl_context_factory):',
    `    with open(${JSON.stringify(record)}, 'a') as f:`,
    "        f.write(json.dumps(dict(hook='ssl_context', pid=os.getpid(), ppid=os.getppid())) + '\\n')",
    '    context = default_ssl_context_factory()',
    '    context.minimum_version = ssl.TLSVersion.TLSv1_3',
    '    return context',
  ].join('\n') + '\n');
  const server = await serverFor(t, ['hooks_app:app', '--chdir', HOOKS, '-c', conf, '-w', '2', '--frontends', '2', ...tlsArgs(certs)], { waitWorkers: 2 });
  const frontends = frontendPids(server.stderrLines);
  assert.deepEqual(hookRecords(record).map((r) => r.ppid).sort(), [...frontends].sort(), 'ssl_context ran once in each front end\'s hook host');
  // Connections land on either front end: every one of them speaks TLS 1.3 only.
  for (let i = 0; i < 8; i++) {
    const res = await httpsRequest(server.port, { ca: certs.ca });
    assert.equal(res.status, 200);
    const socket = tls.connect({ port: server.port, host: '127.0.0.1', ca: certs.ca, servername: 'localhost', maxVersion: 'TLSv1.2' });
    const [err] = await once(socket, 'error');
    assert.match(String(err.code ?? err.message), /VERSION|ALERT|PROTOCOL/i);
  }
  assert.equal((await server.stop()).code, 0);
});

test('--preload with --frontends 2: one zygote per front end imports the app once and forks that front end\'s workers', { skip: !LINUX && 'fork and /proc' }, async (t) => {
  const dir = tempDir(t);
  const imports = path.join(dir, 'imports');
  const record = path.join(dir, 'hooks.jsonl');
  const server = await serverFor(t, ['preload_app:app', '--chdir', HOOKS, '--preload', '-w', '4', '--frontends', '2', '-c', EVERY_HOOK], {
    env: { IMPORT_RECORD: imports, HOOK_RECORD: record },
    waitWorkers: 4,
  });
  const frontends = frontendPids(server.stderrLines);
  const zygotes = importPids(imports);
  assert.equal(zygotes.length, 2, 'the app was imported twice: once per front end, not per worker');
  assert.deepEqual(zygotes.map(parentOf).sort(), [...frontends].sort(), 'each front end started one zygote');
  const forks = zygotes.flatMap((z) => childPids(z).map((pid) => ({ pid, zygote: z })));
  assert.deepEqual(forks.map((f) => f.pid).sort(), [...bootedPids(server)].sort(), 'the workers are the zygotes\' forks');
  for (const z of zygotes) assert.equal(forks.filter((f) => f.zygote === z).length, 2, `zygote ${z} forked its front end's two workers`);
  // The front end's hooks run in its zygote (its hook host); the master's hooks in its own host.
  const recs = hookRecords(record);
  for (const r of recs.filter((r) => r.hook === 'pre_fork')) assert.ok(zygotes.includes(r.pid), 'pre_fork in a zygote');
  assert.ok(recs.filter((r) => r.hook === 'on_starting' || r.hook === 'when_ready').every((r) => r.ppid === server.pid && !zygotes.includes(r.pid)));
  assert.equal(JSON.parse((await request(server.port, { path: '/' })).text()).uid, process.getuid());

  // HUP: new forks from the same zygotes; still two imports.
  server.proc.kill('SIGHUP');
  await waitUntil(() => bootedPids(server).length >= 8, 30_000);
  await waitUntil(() => zygotes.every((z) => childPids(z).length === 2 && childPids(z).every((pid) => bootedPids(server).slice(4).includes(pid))), 20_000);
  for (const z of zygotes) assert.deepEqual(childPids(z).filter((pid) => bootedPids(server).slice(4).includes(pid)).length, 2, `zygote ${z} forked the new generation`);
  assert.deepEqual(importPids(imports), zygotes, 'still one import per front end');
  assert.equal((await server.stop()).code, 0);
  for (const z of zygotes) assert.ok(!isAlive(z), 'the zygotes are gone after the stop');
});

/** app.py answers with the WORD in words.py; reloaded on its change. */
const RELOAD_APP = `import os
import words


def app(environ, start_response):
    body = ('%s %d' % (words.WORD, os.getpid())).encode()
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
    return [body]
`;

test('--reload with --frontends 2: an edit reloads the workers of both front ends, once each, and every request is answered', async (t) => {
  const dir = tempDir(t, 'nodicorn-reload-');
  writeFileSync(path.join(dir, 'app.py'), RELOAD_APP);
  writeFileSync(path.join(dir, 'words.py'), 'WORD = "one"\n');
  const server = await serverFor(t, ['app:app', '--chdir', dir, '--reload', '-w', '2', '--frontends', '2'], { waitWorkers: 2 });
  const frontends = frontendPids(server.stderrLines);
  const word = async () => {
    const res = await request(server.port, { path: '/' }, { timeout: 20_000 });
    assert.equal(res.status, 200, res.text());
    return res.text().split(' ')[0];
  };
  assert.equal(await word(), 'one');
  // The front ends' reloaders start with their workers: both are up once both said so.
  await sleep(1_000);
  writeFileSync(path.join(dir, 'words.py'), 'WORD = "two"\n');
  const reloaded = (fe) => server.stderrLines.filter((l) => l.includes(`[${fe}]`) && /Reload: \d+ new workers serve/.test(l)).length;
  const answers = [];
  for (let i = 0; i < 400 && !frontends.every((fe) => reloaded(fe) >= 1); i++) answers.push(await word());
  assert.ok(frontends.every((fe) => reloaded(fe) >= 1), `both front ends reloaded:\n${server.stderrText()}`);
  assert.ok(answers.every((w) => w === 'one' || w === 'two'), 'every request was answered meanwhile');
  // From now on only the new code answers, whichever front end takes the connection.
  for (let i = 0; i < 20; i++) assert.equal(await word(), 'two');
  await sleep(1_500);
  for (const fe of frontends) {
    assert.equal(reloaded(fe), 1, `front end ${fe} reloaded once`);
    assert.equal(server.stderrLines.filter((l) => l.includes(`[${fe}]`) && /Reloading: .*words\.py.* modified/.test(l)).length, 1, `front end ${fe} saw the edit once`);
  }
  assert.equal(bootedPids(server).length, 4, 'each front end replaced its one worker once');
  assert.equal((await server.stop()).code, 0);
});

test('--daemon --pidfile with --frontends 2: the pidfile holds the master, and TERM to it stops every process', { skip: !LINUX && 'reads /proc' }, async (t) => {
  const dir = tempDir(t);
  const pidfile = path.join(dir, 'd.pid');
  const log = path.join(dir, 'error.log');
  const cli = await runCli(['hello_app:app', '--chdir', APPS, '-D', '-p', pidfile, '--error-logfile', log, '-b', '127.0.0.1:0', '-w', '2', '--frontends', '2']);
  assert.equal(cli.code, 0, cli.stderr);
  const master = Number(readFileSync(pidfile, 'utf8'));
  t.after(() => {
    for (const pid of tree(master)) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
  });
  const text = () => readFileSync(log, 'utf8');
  const port = Number(new RegExp(`Listening at: http://127\\.0\\.0\\.1:(\\d+) \\(${master}\\)`).exec(text())?.[1]);
  assert.ok(port > 0, `the pidfile's pid is the one that listens:\n${text()}`);
  await waitUntil(() => (text().match(/Booting worker with pid/g) ?? []).length >= 2, 30_000);
  assert.equal((await request(port, { path: '/' })).status, 200);
  const frontends = frontendPids(text().split('\n'));
  assert.equal(frontends.length, 2);
  const everything = tree(master);
  for (const fe of frontends) assert.equal(parentOf(fe), master, 'the front ends are the master\'s children');
  assert.ok(everything.length >= 5, `master, two front ends, two workers: ${everything}`);

  process.kill(master, 'SIGTERM');
  await waitUntil(() => everything.every((pid) => !isAlive(pid)), 30_000);
  assert.deepEqual(everything.filter(isAlive), [], 'no front end or worker is left');
  assert.equal(existsSync(pidfile), false, 'the pidfile is removed');
  assert.match(text(), /Shutting down: Master/);
});

test('Django admin behind nginx on a unix socket with --frontends 2: as root, the front ends and workers run as --user nobody', { skip: nginxSkip || (!LINUX && 'reads /proc'), timeout: 300_000 }, async (t) => {
  const dir = tempDir(t, 'nodicorn-deploy-');
  // As /run/<app>/ would be: nginx's user must reach the socket's directory.
  chmodSync(dir, 0o755);
  const env = adminDatabase(dir);
  const nobody = ROOT_USER ? userIds('nobody') : null;
  const found = nobody && pythonAs(nobody, ['django'], DJANGO_DIR);
  const as = found ? ['--user', 'nobody', '--python', found.python] : ['--python', PY];
  if (found) {
    // The app's user writes the sqlite database (sessions) and its journal beside it.
    for (const p of [dir, env.DJANGO_DB_PATH]) chownSync(p, nobody.uid, nobody.gid);
  } else {
    t.diagnostic(ROOT_USER ? 'no Python that nobody can run Django with: the server runs as root' : 'not root: no --user');
  }
  const socket = path.join(dir, 'app.sock');
  const nginx = await startNginx(t, path.join(dir, 'n'), socket);
  const server = await startListening(process.execPath, [CLI, ...serverArgs(socket, ['--frontends', '2', '--umask', '0o011', ...as])], { env: { ...env, ...found?.env } });
  t.after(() => server.kill());
  assert.deepEqual(await walkAdmin(nginx.base), EXPECTED, `nodicorn --frontends 2 behind nginx; nginx's error log:\n${nginx.errorLog()}\n${server.stderrText()}`);
  assert.equal(statSync(socket).mode & 0o777, 0o766, 'the socket\'s mode follows --umask 0o011');
  const frontends = frontendPids(server.stderrLines);
  assert.equal(frontends.length, 2);
  const workers = bootedPids(server);
  assert.equal(workers.length, 2);
  if (found) {
    assert.equal(statSync(socket).uid, nobody.uid, 'the socket is the user\'s');
    for (const pid of [...frontends, ...workers]) assert.equal(credentials(pid).uid, nobody.uid, `process ${pid} runs as nobody`);
  }
  assert.equal((await server.stop()).code, 0);
});
