// Slow clients never hold a Python worker. One worker with one thread; 200 hostile connections
// hold on: 70 trickle a request head one byte a second, 70 send a head and then trickle the body
// one byte a second, 60 ask for an 8 MiB response and never read it. Meanwhile a normal client's
// GETs and POSTs are each served promptly. Node's memory stays bounded (the unread responses
// wait in temp files), and no temp file outlives its connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { APPS } from './lib/paths.mjs';
import { serverFor } from './lib/server.mjs';
import { buildRequest, request } from './lib/http.mjs';
import { fdsInDir, rssKb, sampleRss } from './lib/process.mjs';
import { sleep, waitUntil } from './lib/wait.mjs';

const HEAD_TRICKLERS = 70;
const BODY_TRICKLERS = 70;
const NON_READERS = 60;
const RESPONSE_MB = 8;
/** Each normal request, on a loaded two-core box. */
const PROMPT_MS = 2_000;
/** Peak RSS of the Node process: the unread responses alone are 60 × 8 MiB. */
const RSS_LIMIT_KB = 200 * 1024;

function open(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

test('200 slow clients do not stop a normal client being served by -w 1 --threads 1', { timeout: 90_000 }, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'nodicorn-slow-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // Long head and body timeouts, so every slow client is still holding on when the normal
  // client's requests run (the timeouts have their own tests).
  const server = await serverFor(t, [
    'mixed_app:app', '--chdir', APPS, '-w', '1', '--threads', '1',
    '--spool-dir', dir, '--header-timeout', '60', '--body-timeout', '60',
  ]);
  t.diagnostic(`node RSS at start ${((rssKb(server.pid) ?? 0) / 1024).toFixed(0)} MB`);
  const rss = sampleRss(server.pid, 100);
  const sockets = [];
  const closedEarly = new Set();
  const tricklers = [];
  const ticker = setInterval(() => {
    for (const s of tricklers) if (!s.socket.destroyed && s.at < s.bytes.length) s.socket.write(s.bytes.subarray(s.at, ++s.at));
  }, 1_000);
  t.after(() => {
    clearInterval(ticker);
    for (const s of sockets) s.destroy();
  });
  const hold = async (kind, first, rest) => {
    const socket = await open(server.port);
    sockets.push(socket);
    socket.on('error', () => {});
    socket.on('close', () => closedEarly.add(socket));
    socket.write(first);
    if (rest) tricklers.push({ socket, bytes: rest, at: 0 });
    if (kind === 'non-reader') socket.pause();
    return socket;
  };

  const head = buildRequest({ path: '/', headers: [['X-Slow', 'a'.repeat(200)]] });
  for (let i = 0; i < HEAD_TRICKLERS; i++) await hold('head', head.subarray(0, 1), head.subarray(1));
  for (let i = 0; i < BODY_TRICKLERS; i++) {
    await hold('body', buildRequest({ method: 'POST', path: '/upload', headers: [['Content-Length', '100000']] }), Buffer.alloc(100_000, 0x62));
  }
  for (let i = 0; i < NON_READERS; i++) await hold('non-reader', buildRequest({ path: `/download?mb=${RESPONSE_MB}&piece=64` }));

  // The non-readers' requests went to the one worker first; this one queues behind them all. It
  // is answered only if the worker got through every 8 MiB response that nobody reads.
  const first = await request(server.port, { path: '/' }, { timeout: 60_000 });
  assert.equal(first.text(), 'hello');
  const spooled = fdsInDir(server.pid, dir);
  if (spooled !== null) t.diagnostic(`${spooled.length} responses waiting in temp files`);
  if (spooled !== null) assert.ok(spooled.length >= NON_READERS / 2, `unread responses in temp files: ${spooled.length}`);

  // Ten rounds over about five seconds, while the tricklers keep sending.
  const times = [];
  for (let i = 0; i < 10; i++) {
    let started = performance.now();
    const get = await request(server.port, { path: `/?n=${i}` }, { timeout: 10_000 });
    assert.equal(get.text(), 'hello');
    times.push(performance.now() - started);
    // Small bodies stay in memory, large ones go through a temp file: both are prompt.
    const body = randomBytes(i % 2 ? 20_000 : 600_000);
    started = performance.now();
    const post = await request(server.port, { method: 'POST', path: '/upload', body }, { timeout: 10_000 });
    assert.deepEqual(post.json(), { bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') });
    times.push(performance.now() - started);
    await sleep(500);
  }
  t.diagnostic(`normal client: GET, POST times ${times.map((ms) => ms.toFixed(0)).join(', ')} ms`);
  for (const ms of times) assert.ok(ms < PROMPT_MS, `a normal request took ${ms.toFixed(0)} ms`);
  assert.ok(tricklers.every((s) => s.at >= 3), 'the tricklers kept sending one byte a second meanwhile');

  const peak = rss.stop();
  t.diagnostic(`peak node RSS ${(peak / 1024).toFixed(0)} MB`);
  assert.equal(closedEarly.size, 0, 'every slow client was still connected: they held on throughout');
  assert.ok(peak < RSS_LIMIT_KB, `node RSS peaked at ${(peak / 1024).toFixed(0)} MB`);

  clearInterval(ticker);
  for (const s of sockets) s.destroy();
  const left = await waitUntil(() => (fdsInDir(server.pid, dir) ?? []).length === 0, 10_000);
  assert.ok(left, `temp files still open: ${fdsInDir(server.pid, dir)?.length}`);
  assert.deepEqual(readdirSync(dir), [], 'no temp file left in --spool-dir');
  assert.equal((await request(server.port, { path: '/' })).text(), 'hello');
});
