// USR2: a new master starts on the same listening sockets (inherited fds); the old one keeps
// serving until it is sent TERM; not one request goes unanswered on the way, and the new master
// serves afterwards, on TCP and on a unix socket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { APPS, ConnectionClosedError, RawClient, buildRequest, isAlive, request, serverFor, sleep, unixGet, waitUntil } from './helpers.mjs';

const skip = process.platform === 'win32' && 'no SIGUSR2 on Windows';

/** Pids of the workers a master booted, from its own lines ("[<master pid>] ... Booting worker"). */
function workersOf(server, masterPid) {
  const re = new RegExp(`\\[${masterPid}\\] \\[INFO\\] Booting worker with pid: (\\d+)`);
  return server.stderrLines.map((l) => re.exec(l)).filter(Boolean).map((m) => Number(m[1]));
}

/**
 * Load until `done()`: keep-alive clients (a request on a reused connection that the server
 * closed before answering is sent again on a new connection, as HTTP clients do for idempotent
 * requests, RFC 9112 §9.3.1) and clients that open a connection per request (never retried).
 * Every loop is bounded by `maxEach` requests.
 */
function load(port, socketPath, done, { keepAlive = 3, fresh = 2, unix = 1, maxEach = 3_000 } = {}) {
  const stats = { ok: 0, retries: 0, failures: [], pids: new Set() };
  const answered = (res) => {
    if (res.status === 200) {
      stats.ok++;
      stats.pids.add(Number(res.get ? res.get('x-worker-pid') : res.pid));
    } else stats.failures.push(`status ${res.status}`);
  };
  const keepAliveLoop = async () => {
    let client = null;
    let reused = false;
    for (let i = 0; i < maxEach && !done(); ) {
      try {
        if (!client) {
          client = await RawClient.connect(port);
          reused = false;
        }
        await client.write(buildRequest({ path: '/?s=0.02' }));
        const res = await client.readResponse({ timeout: 15_000 });
        answered(res);
        i++;
        reused = true;
        if (/close/i.test(res.get('connection') ?? '')) {
          client.close();
          client = null;
        }
      } catch (err) {
        client?.close();
        client = null;
        const unanswered = err instanceof ConnectionClosedError ? err.received.length === 0 : /EPIPE|ECONNRESET|write after end|This socket has been ended/.test(String(err?.message ?? err));
        if (reused && unanswered) stats.retries++;
        else {
          stats.failures.push(`keep-alive: ${err.message}`);
          i++;
        }
      }
    }
    client?.close();
  };
  const freshLoop = async () => {
    for (let i = 0; i < maxEach && !done(); i++) {
      try {
        answered(await request(port, { path: '/?s=0.02' }, { timeout: 15_000 }));
      } catch (err) {
        stats.failures.push(`new connection: ${err.message}`);
      }
    }
  };
  const unixLoop = async () => {
    for (let i = 0; i < maxEach && !done(); i++) {
      try {
        answered(await unixGet(socketPath, '/?s=0.02'));
      } catch (err) {
        stats.failures.push(`unix: ${err.message}`);
      }
    }
  };
  const loops = [
    ...Array.from({ length: keepAlive }, keepAliveLoop),
    ...Array.from({ length: fresh }, freshLoop),
    ...Array.from({ length: unix }, unixLoop),
  ];
  return Promise.all(loops).then(() => stats);
}

test('USR2 then TERM to the old master under load: every request is answered, the new master serves on', { skip }, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'nodicorn-reexec-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const sock = path.join(dir, 'app.sock');
  const server = await serverFor(t, ['slow_app:app', '--chdir', APPS, '-w', '2', '--bind', `unix:${sock}`, '--graceful-timeout', '20'], { waitWorkers: 2 });
  const oldPid = server.pid;
  let newPid = 0;
  t.after(async () => {
    if (newPid && isAlive(newPid)) {
      process.kill(newPid, 'SIGTERM');
      if (!(await waitUntil(() => !isAlive(newPid), 10_000))) process.kill(newPid, 'SIGKILL');
    }
  });
  assert.equal((await request(server.port, { path: '/?s=0' })).status, 200);

  let stop = false;
  const running = load(server.port, sock, () => stop);
  await sleep(1_000);

  process.kill(oldPid, 'SIGUSR2');
  const started = await server.waitStderr(/USR2: started a new master \(pid: (\d+)\)/, 10_000);
  newPid = Number(started[1]);
  // The new master names both listeners as the old one does, and boots its own workers.
  await server.waitStderr(new RegExp(`\\[${newPid}\\] \\[INFO\\] Listening at: http://127\\.0\\.0\\.1:${server.port} \\(${newPid}\\)`), 20_000);
  await server.waitStderr(new RegExp(`\\[${newPid}\\] \\[INFO\\] Listening at: unix:${sock.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(${newPid}\\)`), 20_000);
  assert.ok(await waitUntil(() => workersOf(server, newPid).length === 2, 20_000), `the new master booted 2 workers:\n${server.stderrText()}`);
  await sleep(1_500); // both masters serve side by side

  const exit = await server.stop('SIGTERM', 30_000);
  assert.deepEqual(exit, { code: 0, signal: null }, `the old master stops gracefully:\n${server.stderrText()}`);
  assert.ok(existsSync(sock), 'the old master left the unix socket path to the new one');
  await sleep(1_500); // only the new master now
  stop = true;
  const stats = await running;

  assert.deepEqual(stats.failures, [], `unanswered requests (${stats.ok} answered):\n${server.stderrText()}`);
  assert.ok(stats.ok >= 50, `the load ran: ${stats.ok} requests answered`);
  const newWorkers = workersOf(server, newPid);
  const oldWorkers = workersOf(server, oldPid);
  assert.ok([...stats.pids].some((pid) => oldWorkers.includes(pid)), 'the old workers served part of the load');
  assert.ok([...stats.pids].some((pid) => newWorkers.includes(pid)), 'the new workers served part of the load');

  // After the old master is gone, the new one answers on both listeners and gets promoted.
  assert.equal(isAlive(newPid), true);
  for (let i = 0; i < 4; i++) {
    const res = await request(server.port, { path: '/?s=0' });
    assert.equal(res.status, 200);
    assert.ok(newWorkers.includes(Number(res.get('x-worker-pid'))), 'a new worker answers on TCP');
    const viaUnix = await unixGet(sock, '/?s=0');
    assert.equal(viaUnix.status, 200);
    assert.ok(newWorkers.includes(viaUnix.pid), 'a new worker answers on the unix socket');
  }
  await waitUntil(() => server.stderrLines.some((l) => l.includes(`[${newPid}] [INFO] Master has been promoted.`)), 5_000);
  t.diagnostic(`${stats.ok} requests answered, ${stats.retries} sent again after a keep-alive connection was closed idle`);

  // The promoted master, stopped in turn, removes the socket path it inherited.
  process.kill(newPid, 'SIGTERM');
  assert.ok(await waitUntil(() => !isAlive(newPid), 20_000), 'the new master stops on TERM');
  assert.equal(existsSync(sock), false, 'the last master removed the unix socket path');
});

test('USR2 twice: the second is ignored while the new master runs; the new master ignores USR2 while the old lives', { skip }, async (t) => {
  const server = await serverFor(t, ['slow_app:app', '--chdir', APPS, '-w', '1']);
  let newPid = 0;
  t.after(() => {
    if (newPid && isAlive(newPid)) process.kill(newPid, 'SIGKILL');
  });
  process.kill(server.pid, 'SIGUSR2');
  newPid = Number((await server.waitStderr(/USR2: started a new master \(pid: (\d+)\)/, 10_000))[1]);
  await server.waitStderr(new RegExp(`\\[${newPid}\\] \\[INFO\\] Listening at:`), 20_000);
  process.kill(server.pid, 'SIGUSR2');
  await server.waitStderr(/USR2 signal ignored\. Child exists\./, 10_000);
  process.kill(newPid, 'SIGUSR2');
  await server.waitStderr(new RegExp(`\\[${newPid}\\] \\[WARNING\\] USR2 signal ignored\\. Parent exists\\.`), 10_000);
  assert.equal(server.stderrLines.filter((l) => l.includes('USR2: started a new master')).length, 1);

  // Backing out: TERM to the new master; the old one serves on alone.
  process.kill(newPid, 'SIGTERM');
  assert.ok(await waitUntil(() => !isAlive(newPid), 20_000));
  await server.waitStderr(new RegExp(`New master \\(pid: ${newPid}\\) exited with code 0`), 10_000);
  assert.equal((await request(server.port, { path: '/?s=0' })).status, 200);
  assert.deepEqual(await server.stop('SIGTERM', 15_000), { code: 0, signal: null });
});
