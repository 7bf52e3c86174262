// wsgi.file_wrapper: a file body arrives whole (validated path, the raw fast path, without a
// Content-Length, and a plain iterable for comparison).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { APPS } from './lib/paths.mjs';
import { serverFor } from './lib/server.mjs';
import { request } from './lib/http.mjs';

const FILE_SIZE = 3 * 1024 * 1024 + 123;

function expectedSha() {
  const buf = Buffer.alloc(FILE_SIZE);
  for (let i = 0; i < FILE_SIZE; i++) buf[i] = i % 251;
  return createHash('sha256').update(buf).digest('hex');
}

test('wsgi.file_wrapper', async (t) => {
  const server = await serverFor(t, ['filewrapper_app:app', '--chdir', APPS]);
  const sha = expectedSha();

  const fetch = async (target, version = '1.1') => {
    const hash = createHash('sha256');
    const res = await request(server.port, { path: target, version }, { sink: (b) => hash.update(b), timeout: 30_000 });
    res.sha = hash.digest('hex');
    return res;
  };

  await t.test('the app sees wsgi.file_wrapper', async () => {
    const res = await request(server.port, { path: '/info' });
    assert.equal(res.text(), `True ${FILE_SIZE}`);
  });

  for (const target of ['/validated', '/raw', '/raw-nocl', '/fallback']) {
    await t.test(`${target}: whole file, sha256 matches`, async () => {
      const res = await fetch(target);
      assert.equal(res.status, 200);
      assert.equal(res.complete, true);
      assert.equal(res.bodyLength, FILE_SIZE);
      assert.equal(res.sha, sha);
      if (target !== '/raw-nocl') assert.equal(res.get('content-length'), String(FILE_SIZE));
    });
  }

  await t.test('/raw-nocl over HTTP/1.0 (close-delimited)', async () => {
    const res = await fetch('/raw-nocl', '1.0');
    assert.equal(res.status, 200);
    assert.equal(res.bodyLength, FILE_SIZE);
    assert.equal(res.sha, sha);
  });

  await t.test('HEAD /raw: no body', async () => {
    const res = await request(server.port, { method: 'HEAD', path: '/raw' });
    assert.equal(res.status, 200);
    assert.equal(res.get('content-length'), String(FILE_SIZE));
  });

  await t.test('no validation failures were logged', () => {
    assert.deepEqual(server.validationFailures(), []);
  });
});
