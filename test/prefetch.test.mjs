// The prefetch depth follows the worker's pace (--prefetch-time): a worker that answers quickly
// may hold more requests ahead than --prefetch, and one slow answer brings it back.
//
// --backlog is also the listen backlog, so with --backlog 1 connections are opened one at a
// time before their requests go out together (simultaneous connects would be dropped and
// retried by the kernel a second later).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { APPS } from './lib/paths.mjs';
import { serverFor } from './lib/server.mjs';
import { RawClient } from './lib/raw-client.mjs';
import { buildRequest } from './lib/http.mjs';
import { sleep } from './lib/wait.mjs';

const ARGS = ['slow_app:app', '--chdir', APPS, '-w', '1', '--threads', '1', '--prefetch', '1', '--backlog', '1'];

/**
 * Fast answers, one keep-alive client after the other. (With two, both could send their next
 * request while the worker's END for the last one is still on its way: one over the bound.)
 */
async function warmUp(port, rounds) {
  const client = await RawClient.connect(port);
  try {
    for (let i = 0; i < rounds; i++) {
      await client.write(buildRequest({ path: '/?s=0' }));
      assert.equal((await client.readResponse()).status, 200);
    }
  } finally {
    client.close();
  }
}

/** A slow request, then `count` fast ones sent at once while it runs: how many were taken (200). */
async function takenBehindSlow(port, count) {
  const clients = [];
  for (let i = 0; i <= count; i++) clients.push(await RawClient.connect(port));
  try {
    const [slowClient, ...fastClients] = clients;
    await slowClient.write(buildRequest({ path: '/?s=1.5' }));
    const slow = slowClient.readResponse({ timeout: 20_000 });
    await sleep(300);
    const statuses = await Promise.all(fastClients.map(async (client) => {
      await client.write(buildRequest({ path: '/?s=0' }));
      return (await client.readResponse({ timeout: 20_000 })).status;
    }));
    assert.equal((await slow).status, 200);
    for (const status of statuses) assert.ok(status === 200 || status === 503, `status ${status}`);
    return statuses.filter((s) => s === 200).length;
  } finally {
    for (const c of clients) c.close();
  }
}

test('--prefetch 1 --prefetch-time 20: a fast worker holds more than one request ahead, until a slow answer shows', async (t) => {
  const server = await serverFor(t, [...ARGS, '--prefetch-time', '20'], { waitWorkers: 1 });
  await warmUp(server.port, 200);
  // Only one prefetched + one queued would be taken at --prefetch 1.
  const deep = await takenBehindSlow(server.port, 10);
  assert.ok(deep > 2, `taken behind the slow request once the worker was fast: ${deep}`);
  // That 1.5 s answer counted at once: back to one prefetched + one queued.
  assert.equal(await takenBehindSlow(server.port, 10), 2, 'right after a slow answer');
});

test('--prefetch-time 0: the depth stays at --prefetch however fast the worker is', async (t) => {
  const server = await serverFor(t, [...ARGS, '--prefetch-time', '0'], { waitWorkers: 1 });
  await warmUp(server.port, 200);
  assert.equal(await takenBehindSlow(server.port, 10), 2);
});
