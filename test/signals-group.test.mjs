// SIGTERM to the whole process group (systemd's KillMode=control-group, `timeout`, Ctrl-C's
// group): the workers get it too, and must finish their requests and wait for the master's
// graceful stop instead of dying with them. The server runs in a process group of its own
// (spawned detached), so the signal does not reach the test runner.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { APPS, bootedPids, cliArgs, isAlive, request, sleep, waitUntil } from './helpers.mjs';

const LISTENING = /Listening at: http:\/\/127\.0\.0\.1:(\d+)/;

async function serverInOwnGroup(t, args) {
  const proc = spawn(process.execPath, cliArgs([...args, '--bind', '127.0.0.1:0']), { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  const lines = [];
  let rest = '';
  proc.stderr.setEncoding('utf8').on('data', (d) => {
    rest += d;
    const parts = rest.split('\n');
    rest = parts.pop();
    lines.push(...parts);
  });
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  t.after(() => {
    try { process.kill(-proc.pid, 'SIGKILL'); } catch { /* gone */ }
    return exited;
  });
  const found = await waitUntil(() => lines.map((l) => LISTENING.exec(l)).find(Boolean), 30_000);
  assert.ok(found, `no Listening line:\n${lines.join('\n')}`);
  return { pid: proc.pid, port: Number(found[1]), stderrLines: lines, exited };
}

test('TERM to the process group: the request in flight completes (200), the server exits 0', { skip: process.platform === 'win32' && 'no process groups on Windows' }, async (t) => {
  const server = await serverInOwnGroup(t, ['slow_app:app', '--chdir', APPS, '-w', '2', '--graceful-timeout', '20']);
  assert.ok(await waitUntil(() => bootedPids(server).length === 2, 15_000));
  assert.equal((await request(server.port, { path: '/?s=0' })).status, 200);
  const workers = bootedPids(server);

  const inflight = request(server.port, { path: '/?s=2' }, { timeout: 15_000 });
  await sleep(500); // dispatched and sleeping
  process.kill(-server.pid, 'SIGTERM');
  const res = await inflight;
  assert.equal(res.status, 200, `the worker finished its request:\n${server.stderrLines.join('\n')}`);
  assert.equal(res.text(), 'slept 2.0');

  const exit = await Promise.race([server.exited, sleep(15_000).then(() => 'still running')]);
  assert.deepEqual(exit, { code: 0, signal: null }, server.stderrLines.join('\n'));
  assert.equal(server.stderrLines.some((l) => /Worker \(pid:\d+\) was sent SIGTERM/.test(l)), false, 'no worker died of the TERM');
  assert.ok(await waitUntil(() => workers.every((pid) => !isAlive(pid)), 5_000), 'the workers exited with the master');
});
