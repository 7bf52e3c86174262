// A worker that dies mid-request: 502 for that request, a fresh worker for the next.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { APPS } from './lib/paths.mjs';
import { serverFor } from './lib/server.mjs';
import { request } from './lib/http.mjs';
import { bootedPids, isAlive } from './lib/process.mjs';
import { sleep } from './lib/wait.mjs';

test('worker os._exit mid-request -> 502, then a respawned worker serves', async (t) => {
  const server = await serverFor(t, ['exit_app:app', '--chdir', APPS, '-w', '1'], { waitWorkers: 1 });
  const first = await request(server.port, { path: '/' });
  assert.equal(first.status, 200);
  const pid1 = Number(first.get('x-worker-pid'));

  const res = await request(server.port, { path: '/exit' }, { timeout: 10_000 });
  assert.equal(res.status, 502);

  const deadline = Date.now() + 10_000;
  let next;
  for (;;) {
    next = await request(server.port, { path: '/' }, { timeout: 10_000 });
    if (next.status === 200 || Date.now() > deadline) break;
    await sleep(100);
  }
  assert.equal(next.status, 200);
  const pid2 = Number(next.get('x-worker-pid'));
  assert.notEqual(pid2, pid1, 'a new worker process');
  assert.equal(isAlive(pid1), false, 'the dead worker was reaped');
  assert.ok(bootedPids(server).includes(pid2), 'the respawn is logged as "Booting worker with pid"');
  assert.equal(server.exitInfo, null, 'the server itself is still running');
});

test('a worker killed from outside while idle is replaced', async (t) => {
  const server = await serverFor(t, ['exit_app:app', '--chdir', APPS, '-w', '1'], { waitWorkers: 1 });
  const pid1 = Number((await request(server.port, { path: '/' })).get('x-worker-pid'));
  process.kill(pid1, 'SIGKILL');
  await sleep(200);
  const deadline = Date.now() + 10_000;
  let res;
  do {
    res = await request(server.port, { path: '/' }, { timeout: 10_000 });
    if (res.status === 200) break;
    await sleep(100);
  } while (Date.now() < deadline);
  assert.equal(res.status, 200);
  assert.notEqual(Number(res.get('x-worker-pid')), pid1);
});

test('requests prefetched behind the one that killed the worker are served by its replacement', async (t) => {
  const server = await serverFor(t, ['exit_app:app', '--chdir', APPS, '-w', '1', '--prefetch', '4'], { waitWorkers: 1 });
  const pid1 = Number((await request(server.port, { path: '/' })).get('x-worker-pid'));
  const dying = request(server.port, { path: '/exit?after=1.5' }, { timeout: 10_000 });
  await sleep(200);
  // All prefetched into the busy worker (it holds one running request and four more), well
  // before it dies.
  const behind = [0, 1, 2].map(() => request(server.port, { path: '/' }, { timeout: 10_000 }));
  const withBody = request(server.port, { method: 'POST', path: '/', body: 'abc' }, { timeout: 10_000 });
  assert.equal((await dying).status, 502, 'the request that ran into the crash');
  for (const res of await Promise.all(behind)) {
    assert.equal(res.status, 200, 'a request the dead worker never started');
    assert.notEqual(Number(res.get('x-worker-pid')), pid1);
  }
  // Its body went into the dead pipe: it cannot be sent again.
  assert.equal((await withBody).status, 502);
});
