// Queue overflow: past --backlog waiting requests the server answers 503 at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { APPS } from './lib/paths.mjs';
import { serverFor } from './lib/server.mjs';
import { request } from './lib/http.mjs';
import { sleep } from './lib/wait.mjs';

test('-w 1 --threads 1 --prefetch 0 --backlog 1: the request past the queue bound gets 503 fast', async (t) => {
  const server = await serverFor(t, ['slow_app:app', '--chdir', APPS, '-w', '1', '--threads', '1', '--prefetch', '0', '--backlog', '1'], { waitWorkers: 1 });
  assert.equal((await request(server.port, { path: '/?s=0' })).status, 200);

  const started = Date.now();
  const results = [];
  for (let i = 0; i < 4; i++) {
    results.push(request(server.port, { path: '/?s=2' }, { timeout: 20_000 }).then((res) => ({ res, at: Date.now() - started })));
    await sleep(150);
  }
  const done = await Promise.all(results);
  const statuses = done.map((d) => d.res.status);
  assert.equal(statuses[0], 200, `first request: ${statuses}`);
  assert.ok(statuses.includes(503), `statuses ${statuses}`);
  assert.ok(statuses.filter((s) => s === 200).length <= 2, `one running + one queued at most: ${statuses}`);
  for (const d of done) {
    if (d.res.status === 503) assert.ok(d.at < 1_500, `503 after ${d.at} ms: overflow must be answered at once`);
    else assert.equal(d.res.status, 200);
  }
  assert.equal((await request(server.port, { path: '/?s=0' }, { timeout: 10_000 })).status, 200, 'serves again once the queue drains');
});

test('--prefetch 1: one more request waits inside the busy worker, the rest in the queue, then 503', async (t) => {
  // --prefetch-time 0 holds the depth at --prefetch: by default one quick first answer (under
  // 2.5 ms, which depends on the machine) would let the worker take two, and nothing would overflow.
  const server = await serverFor(t, ['slow_app:app', '--chdir', APPS, '-w', '1', '--threads', '1', '--prefetch', '1', '--prefetch-time', '0', '--backlog', '1'], { waitWorkers: 1 });
  // "Booting worker" is logged at spawn: one answered request proves the worker is READY, so
  // the first slow request runs at once instead of taking the only queue slot.
  assert.equal((await request(server.port, { path: '/?s=0' })).status, 200);
  const results = [];
  for (let i = 0; i < 4; i++) {
    results.push(request(server.port, { path: '/?s=1' }, { timeout: 20_000 }).then((res) => res.status));
    await sleep(150);
  }
  // running + prefetched + queued = 3 served; the fourth finds the queue full.
  assert.deepEqual(await Promise.all(results), [200, 200, 200, 503]);
});
