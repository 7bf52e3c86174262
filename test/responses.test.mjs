// Response framing and streaming: generator bodies stream, the app's Content-Length is honoured,
// chunked otherwise on HTTP/1.1, close-delimited on HTTP/1.0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { APPS } from './lib/paths.mjs';
import { serverFor } from './lib/server.mjs';
import { RawClient } from './lib/raw-client.mjs';
import { buildRequest, request } from './lib/http.mjs';

const expectedChunks = (n) => Array.from({ length: n }, (_, i) => `chunk-${i}\n`).join('');

test('response framing', async (t) => {
  const server = await serverFor(t, ['generator_app:app', '--chdir', APPS, '--threads', '4']);

  await t.test('a generator body streams: the first byte arrives long before the last', async () => {
    const res = await request(server.port, { path: '/?n=5&delay=0.4' }, { timeout: 15_000 });
    assert.equal(res.status, 200);
    assert.equal(res.text(), expectedChunks(5));
    const first = res.times.firstBodyAt - res.times.start;
    const total = res.times.endAt - res.times.start;
    assert.ok(total >= 1500, `the generator sleeps 1.6 s in all, total was ${total.toFixed(0)} ms`);
    assert.ok(first < total - 1000, `first body byte at ${first.toFixed(0)} ms of ${total.toFixed(0)} ms: the body was buffered`);
  });

  await t.test('HTTP/1.1 without an app Content-Length: chunked', async () => {
    const res = await request(server.port, { path: '/?n=3&delay=0' });
    assert.equal(res.framing, 'chunked');
    assert.equal(res.complete, true);
    assert.equal(res.text(), expectedChunks(3));
  });

  await t.test("the app's Content-Length is honoured (no chunking)", async () => {
    const res = await request(server.port, { path: '/?n=4&delay=0.05&cl=1' });
    assert.equal(res.framing, 'length');
    assert.equal(res.get('content-length'), String(expectedChunks(4).length));
    assert.equal(res.get('transfer-encoding'), undefined);
    assert.equal(res.text(), expectedChunks(4));
  });

  await t.test('HTTP/1.0 without an app Content-Length: close-delimited', async () => {
    const client = await RawClient.connect(server.port);
    try {
      await client.write(buildRequest({ path: '/?n=3&delay=0.05', version: '1.0' }));
      const res = await client.readResponse();
      assert.equal(res.status, 200);
      assert.match(res.version, /^1\.[01]$/);
      assert.equal(res.get('transfer-encoding'), undefined, 'no chunked coding for an HTTP/1.0 client');
      assert.equal(res.framing, 'close');
      assert.equal(res.text(), expectedChunks(3));
      assert.equal(await client.waitClosed(2000), true);
    } finally {
      client.close();
    }
  });

  await t.test('HTTP/1.0 with an app Content-Length: length-delimited', async () => {
    const res = await request(server.port, { path: '/?n=2&delay=0&cl=1', version: '1.0' });
    assert.equal(res.framing, 'length');
    assert.equal(res.text(), expectedChunks(2));
  });

  await t.test('a response has Date and no duplicate framing headers', async () => {
    const res = await request(server.port, { path: '/?n=1&delay=0&cl=1' });
    assert.ok(res.get('date'), 'Date header');
    assert.equal(res.getAll('content-length').length, 1);
    assert.ok(res.get('x-worker-pid'));
  });

  await t.test('a client that leaves mid-body is not reported as a short app body', async () => {
    const client = await RawClient.connect(server.port);
    await client.write(buildRequest({ path: '/?n=4&delay=0.2&cl=1' }));
    await new Promise((resolve) => setTimeout(resolve, 100));
    client.close();
    // The generator goes on for 0.6 s after the client left; then the request ends.
    await new Promise((resolve) => setTimeout(resolve, 1200));
    assert.equal((await request(server.port, { path: '/?n=1&delay=0' })).status, 200);
    const blamed = server.stderrLines.filter((l) => l.includes('of its Content-Length'));
    assert.deepEqual(blamed, [], 'the app sent all it declared; the client left');
  });

  await t.test('no validation failures were logged', () => {
    assert.deepEqual(server.validationFailures(), []);
  });
});
