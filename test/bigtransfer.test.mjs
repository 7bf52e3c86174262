// 200 MB up and down, checked by sha256, while the Node process' RSS stays bounded: bodies
// stream through (or spill to disk), they are never held whole in memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { APPS } from './lib/paths.mjs';
import { serverFor } from './lib/server.mjs';
import { RawClient } from './lib/raw-client.mjs';
import { buildRequest, request } from './lib/http.mjs';
import { downloadSha } from './lib/bodies.mjs';
import { rssKb, sampleRss } from './lib/process.mjs';
import { sleep } from './lib/wait.mjs';

const MB = 1024 * 1024;
const RSS_LIMIT_KB = 200 * 1024;
const TRANSFER_TIMEOUT = 180_000;

/** size bytes of deterministic pseudo-random data, produced block by block. */
function* uploadBlocks(size, block = MB) {
  let seed = 12345;
  const buf = Buffer.alloc(block);
  for (let sent = 0; sent < size; sent += block) {
    for (let i = 0; i < block; i += 4) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      buf.writeUInt32LE(seed, i);
    }
    yield buf.subarray(0, Math.min(block, size - sent));
  }
}

async function upload(port, size, { chunkedCoding = false } = {}) {
  const c = await RawClient.connect(port);
  try {
    const headers = [['Content-Type', 'application/octet-stream']];
    headers.push(chunkedCoding ? ['Transfer-Encoding', 'chunked'] : ['Content-Length', String(size)]);
    await c.write(buildRequest({ method: 'POST', path: '/upload', headers }));
    const hash = createHash('sha256');
    for (const block of uploadBlocks(size)) {
      hash.update(block);
      if (chunkedCoding) await c.write(Buffer.concat([Buffer.from(`${block.length.toString(16)}\r\n`), block, Buffer.from('\r\n')]));
      else await c.write(Buffer.from(block));
    }
    if (chunkedCoding) await c.write('0\r\n\r\n');
    const res = await c.readResponse({ timeout: TRANSFER_TIMEOUT });
    return { res, sha: hash.digest('hex') };
  } finally {
    c.close();
  }
}

test('200 MB upload (Content-Length): byte count and sha256, bounded RSS', { timeout: 300_000 }, async (t) => {
  const server = await serverFor(t, ['big_upload:app', '--chdir', APPS, '-w', '1']);
  const rss = sampleRss(server.pid);
  const { res, sha } = await upload(server.port, 200 * MB);
  const peak = rss.stop();
  t.diagnostic(`peak node RSS ${(peak / 1024).toFixed(0)} MB`);
  assert.equal(res.status, 200, res.text());
  assert.deepEqual(res.json(), { bytes: 200 * MB, sha256: sha });
  assert.ok(peak < RSS_LIMIT_KB, `node RSS peaked at ${(peak / 1024).toFixed(0)} MB during the upload`);
});

test('64 MB chunked upload: exact bytes', { timeout: 300_000 }, async (t) => {
  const server = await serverFor(t, ['big_upload:app', '--chdir', APPS, '-w', '1']);
  const rss = sampleRss(server.pid);
  const { res, sha } = await upload(server.port, 64 * MB, { chunkedCoding: true });
  const peak = rss.stop();
  t.diagnostic(`peak node RSS ${(peak / 1024).toFixed(0)} MB`);
  assert.equal(res.status, 200, res.text());
  assert.deepEqual(res.json(), { bytes: 64 * MB, sha256: sha });
  assert.ok(peak < RSS_LIMIT_KB, `node RSS peaked at ${(peak / 1024).toFixed(0)} MB`);
});

test('200 MB download', { timeout: 400_000 }, async (t) => {
  const server = await serverFor(t, ['big_download:app', '--chdir', APPS, '-w', '1']);

  await t.test('Content-Length: sha256 matches, bounded RSS', async () => {
    const expected = downloadSha(200);
    const hash = createHash('sha256');
    const rss = sampleRss(server.pid);
    const res = await request(server.port, { path: '/?mb=200' }, { sink: (b) => hash.update(b), timeout: TRANSFER_TIMEOUT });
    const peak = rss.stop();
    t.diagnostic(`peak node RSS ${(peak / 1024).toFixed(0)} MB`);
    assert.equal(res.status, 200);
    assert.equal(res.complete, true);
    assert.equal(res.bodyLength, 200 * MB);
    assert.equal(hash.digest('hex'), expected);
    assert.ok(peak < RSS_LIMIT_KB, `node RSS peaked at ${(peak / 1024).toFixed(0)} MB during the download`);
  });

  await t.test('chunked (no Content-Length), 64 KiB pieces: sha256 matches', async () => {
    const expected = downloadSha(64);
    const hash = createHash('sha256');
    const res = await request(server.port, { path: '/?mb=64&cl=0&piece=64' }, { sink: (b) => hash.update(b), timeout: TRANSFER_TIMEOUT });
    assert.equal(res.status, 200);
    assert.equal(res.framing, 'chunked');
    assert.equal(res.complete, true);
    assert.equal(hash.digest('hex'), expected);
  });

  await t.test('a client that stops reading: the server does not buffer the rest in memory', async () => {
    const expected = downloadSha(200);
    const c = await RawClient.connect(server.port);
    try {
      const hash = createHash('sha256');
      const rss = sampleRss(server.pid);
      await c.write(buildRequest({ path: '/?mb=200' }));
      let got = 0;
      let paused = false;
      const reading = c.readResponse({
        timeout: TRANSFER_TIMEOUT,
        sink: (b) => {
          hash.update(b);
          got += b.length;
          if (!paused && got > 10 * MB) {
            paused = true;
            c.socket.pause();
            setTimeout(() => c.socket.resume(), 3_000);
          }
        },
      });
      const res = await reading;
      const peak = rss.stop();
      t.diagnostic(`peak node RSS ${(peak / 1024).toFixed(0)} MB`);
      assert.equal(res.status, 200);
      assert.equal(res.bodyLength, 200 * MB);
      assert.equal(hash.digest('hex'), expected);
      assert.ok(peak < RSS_LIMIT_KB, `node RSS peaked at ${(peak / 1024).toFixed(0)} MB while the client was paused`);
    } finally {
      c.close();
    }
  });

  await t.test('RSS after the transfers', async () => {
    await sleep(200);
    const now = rssKb(server.pid);
    if (now !== null) assert.ok(now < RSS_LIMIT_KB, `RSS ${now} kB`);
  });
});
