// --timeout: a request running past it gets 504, its worker is killed and replaced.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { APPS } from './lib/paths.mjs';
import { serverFor } from './lib/server.mjs';
import { request } from './lib/http.mjs';
import { isAlive } from './lib/process.mjs';
import { sleep } from './lib/wait.mjs';

test('hang past --timeout 2 -> 504, then served again by a new worker', async (t) => {
  const server = await serverFor(t, ['hang_app:app', '--chdir', APPS, '-w', '1', '--timeout', '2'], { waitWorkers: 1 });
  const first = await request(server.port, { path: '/' });
  assert.equal(first.status, 200);
  const pid1 = Number(first.get('x-worker-pid'));

  const started = Date.now();
  const res = await request(server.port, { path: '/hang' }, { timeout: 15_000 });
  const took = Date.now() - started;
  assert.equal(res.status, 504);
  assert.ok(took >= 1_500, `504 after ${took} ms: too early for --timeout 2`);
  assert.ok(took < 10_000, `504 after ${took} ms: too late for --timeout 2`);

  let next;
  const deadline = Date.now() + 10_000;
  do {
    next = await request(server.port, { path: '/' }, { timeout: 10_000 });
    if (next.status === 200) break;
    await sleep(100);
  } while (Date.now() < deadline);
  assert.equal(next.status, 200);
  assert.notEqual(Number(next.get('x-worker-pid')), pid1, 'the hung worker was replaced');
  await sleep(200);
  assert.equal(isAlive(pid1), false, 'the hung worker was killed');
  assert.ok(server.stderrLines.some((l) => /timeout|timed out/i.test(l)), 'the error log says why');
});

test('a request under --timeout is not cut short', async (t) => {
  const server = await serverFor(t, ['slow_app:app', '--chdir', APPS, '-w', '1', '--timeout', '3']);
  const res = await request(server.port, { path: '/?s=1' }, { timeout: 10_000 });
  assert.equal(res.status, 200);
  assert.equal(res.text(), 'slept 1.0');
});

test('requests waiting behind the one that timed out are served by the replacement, not failed', async (t) => {
  const server = await serverFor(t, ['hang_app:app', '--chdir', APPS, '-w', '1', '--timeout', '2', '--prefetch', '4'], { waitWorkers: 1 });
  const pid1 = Number((await request(server.port, { path: '/' })).get('x-worker-pid'));
  const hung = request(server.port, { path: '/hang' }, { timeout: 15_000 });
  await sleep(300);
  const behind = await Promise.all([0, 1, 2].map(() => request(server.port, { path: '/' }, { timeout: 15_000 })));
  assert.equal((await hung).status, 504);
  for (const res of behind) {
    assert.equal(res.status, 200);
    assert.notEqual(Number(res.get('x-worker-pid')), pid1, 'served by the new worker');
  }
});
