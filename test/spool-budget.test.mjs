// The global budget for what slow readers hold (--spool-disk-limit, --spool-memory-limit): many
// clients that never read, each asking for a big answer, cannot make the server's temp files
// outgrow the limit. Past it the connections whose clients have read nothing for longest are
// closed, one warning each; a client that reads keeps getting whole answers, and the server
// keeps serving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readlinkSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { APPS } from './lib/paths.mjs';
import { serverFor } from './lib/server.mjs';
import { buildRequest, request } from './lib/http.mjs';
import { downloadSha } from './lib/bodies.mjs';
import { sleep, waitUntil } from './lib/wait.mjs';

const MiB = 1024 * 1024;
const NON_READERS = 10;
const RESPONSE_MB = 8;
const DISK_LIMIT = 20 * MiB;

/** Bytes the process's open temp files in `dir` take (unlinked, so found through /proc/PID/fd). */
function spooledBytes(pid, dir) {
  let total = 0;
  let names;
  try {
    names = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return 0;
  }
  for (const name of names) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${name}`).startsWith(`${dir}${path.sep}`)) total += statSync(`/proc/${pid}/fd/${name}`).size;
    } catch {
      // closed between readdir and stat
    }
  }
  return total;
}

/** A connection that asks for `mb` MiB and reads nothing until `drain()` reads it all. */
async function nonReader(port, mb) {
  const socket = net.connect({ port, host: '127.0.0.1' });
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.on('error', () => {});
  socket.pause();
  socket.write(buildRequest({ path: `/download?mb=${mb}&piece=64` }));
  return {
    socket,
    /** Everything the server sent until it closed or the deadline: byte count and body hash. */
    drain(ms) {
      return new Promise((resolve) => {
        const chunks = [];
        let size = 0;
        let finished = false;
        const done = () => {
          if (finished) return;
          finished = true;
          clearTimeout(timer);
          socket.destroy();
          const all = Buffer.concat(chunks);
          const at = all.indexOf('\r\n\r\n');
          const body = at < 0 ? Buffer.alloc(0) : all.subarray(at + 4);
          resolve({ body: body.length, sha: createHash('sha256').update(body).digest('hex') });
        };
        const timer = setTimeout(done, ms);
        socket.on('data', (c) => {
          chunks.push(c);
          size += c.length;
          // A whole answer has arrived (the connection stays open for keep-alive).
          if (size >= mb * MiB) setImmediate(() => hasWhole(chunks, mb) && done());
        });
        socket.once('end', done);
        socket.once('close', done);
        socket.resume();
      });
    },
  };
}

/** Whether the chunks hold a whole head and a body of `mb` MiB. */
function hasWhole(chunks, mb) {
  const all = Buffer.concat(chunks);
  const at = all.indexOf('\r\n\r\n');
  return at >= 0 && all.length - at - 4 >= mb * MiB;
}

test('non-reading clients past --spool-disk-limit: the temp files stay under it, the idlest are closed', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'nodicorn-budget-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const server = await serverFor(t, [
    'mixed_app:app', '--chdir', APPS, '-w', '1', '--threads', '2',
    '--spool-dir', dir, '--spool-disk-limit', String(DISK_LIMIT), '--send-timeout', '600',
  ]);

  let peak = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, spooledBytes(server.pid, dir));
  }, 20);
  t.after(() => clearInterval(sampler));

  const clients = [];
  t.after(() => {
    for (const c of clients) c.socket.destroy();
  });
  // One at a time, each given time to fall behind, so their ages are in opening order.
  for (let i = 0; i < NON_READERS; i++) {
    clients.push(await nonReader(server.port, RESPONSE_MB));
    await waitUntil(() => spooledBytes(server.pid, dir) > 0 || server.stderrText().includes('--spool-disk-limit'), 5_000);
    await sleep(300);
  }
  // The worker got through every answer: the next request is served at once.
  const reader = await request(server.port, { path: `/download?mb=${RESPONSE_MB}` }, { timeout: 60_000 });
  assert.equal(createHash('sha256').update(reader.body).digest('hex'), downloadSha(RESPONSE_MB), 'a reading client gets its whole answer');
  await sleep(500);
  clearInterval(sampler);
  peak = Math.max(peak, spooledBytes(server.pid, dir));
  t.diagnostic(`peak temp-file bytes ${peak} for a limit of ${DISK_LIMIT} (${NON_READERS} × ${RESPONSE_MB} MiB unread)`);
  assert.ok(peak > 0, 'responses were spooled to temp files');
  assert.ok(peak <= DISK_LIMIT, `temp files took ${peak} bytes, over --spool-disk-limit ${DISK_LIMIT}`);

  const warnings = server.stderrLines.filter((l) => l.includes('--spool-disk-limit'));
  t.diagnostic(warnings[warnings.length - 1] ?? 'no warning');
  assert.ok(warnings.length >= 1, 'each closed connection is logged');
  assert.ok(warnings.every((l) => /WARNING/.test(l)), 'logged as warnings');

  // Now every client reads: the closed ones got a cut answer, the others the whole of it.
  const results = [];
  for (const c of clients) results.push(await c.drain(30_000));
  const whole = results.map((r) => r.body === RESPONSE_MB * MiB && r.sha === downloadSha(RESPONSE_MB));
  t.diagnostic(`whole answers by opening order: ${whole.map((w) => (w ? 'W' : 'x')).join('')}`);
  const closed = whole.filter((w) => !w).length;
  assert.ok(closed >= NON_READERS / 2, `${closed} connections closed: 10 × 8 MiB cannot fit in 20 MiB`);
  assert.equal(whole[0], false, 'the oldest non-reader is closed');
  assert.equal(whole[NON_READERS - 1], true, 'the newest non-reader keeps its answer and gets all of it');
  assert.ok(warnings.length <= closed, 'one warning per closed connection at most');

  const left = await waitUntil(() => spooledBytes(server.pid, dir) === 0, 10_000);
  assert.ok(left, 'no temp file outlives its connection');
  assert.equal((await request(server.port, { path: '/' })).text(), 'hello', 'the server keeps serving');
});

test('--max-temp-file-size 0: non-reading clients past --spool-memory-limit are closed the same way', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'nodicorn-budget-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const memoryLimit = 6 * MiB;
  const server = await serverFor(t, [
    'mixed_app:app', '--chdir', APPS, '-w', '1', '--threads', '8', '--spool-dir', dir, '--max-temp-file-size', '0',
    '--body-buffer-size', String(2 * MiB), '--spool-memory-limit', String(memoryLimit), '--send-timeout', '600',
  ]);
  const clients = [];
  t.after(() => {
    for (const c of clients) c.socket.destroy();
  });
  for (let i = 0; i < 6; i++) {
    clients.push(await nonReader(server.port, RESPONSE_MB));
    await sleep(400);
  }
  const reader = await request(server.port, { path: `/download?mb=${RESPONSE_MB}` }, { timeout: 60_000 });
  assert.equal(createHash('sha256').update(reader.body).digest('hex'), downloadSha(RESPONSE_MB), 'a reading client gets its whole answer');
  assert.equal(spooledBytes(server.pid, dir), 0, 'nothing went to a temp file');

  const warnings = server.stderrLines.filter((l) => l.includes('--spool-memory-limit'));
  t.diagnostic(warnings[warnings.length - 1] ?? 'no warning');
  assert.ok(warnings.length >= 1, 'each closed connection is logged');
  for (const line of warnings) {
    const held = Number(/held now: (\d+) bytes in memory/.exec(line)?.[1]);
    assert.ok(held <= memoryLimit, `after a close, responses held ${held} bytes of memory`);
  }
  const results = [];
  for (const c of clients) results.push(await c.drain(30_000));
  const whole = results.map((r) => r.body === RESPONSE_MB * MiB && r.sha === downloadSha(RESPONSE_MB));
  t.diagnostic(`whole answers by opening order: ${whole.map((w) => (w ? 'W' : 'x')).join('')}`);
  assert.equal(whole[0], false, 'the oldest non-reader is closed');
  assert.equal(whole[whole.length - 1], true, 'the newest non-reader gets all of its answer');
  assert.equal((await request(server.port, { path: '/' })).text(), 'hello', 'the server keeps serving');
});
