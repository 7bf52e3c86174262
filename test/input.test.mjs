// wsgi.input: every read form, Content-Length and chunked bodies, split writes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { APPS } from './lib/paths.mjs';
import { serverFor } from './lib/server.mjs';
import { RawClient } from './lib/raw-client.mjs';
import { buildRequest, request } from './lib/http.mjs';
import { chunked } from './lib/bodies.mjs';

const BODY = 'first line\nsecond, longer line\n\nfourth\nno newline at the end';
const LINES = ['first line\n', 'second, longer line\n', '\n', 'fourth\n', 'no newline at the end'];

test('wsgi.input read forms', async (t) => {
  const server = await serverFor(t, ['input_app:app', '--chdir', APPS, '--threads', '2']);

  const post = async (mode, body, extraHeaders = []) => {
    const res = await request(server.port, {
      method: 'POST', path: `/?mode=${mode}`, body, headers: [['Content-Type', 'text/plain'], ...extraHeaders],
    });
    assert.equal(res.status, 200, `${mode}: ${res.text()}`);
    return res.json();
  };
  const pieces = (doc) => doc.pieces.map((p) => Buffer.from(p, 'base64').toString('utf8'));
  const body = (doc) => Buffer.from(doc.body_b64, 'base64').toString('utf8');

  for (const mode of ['read', 'read-1', 'read-none', 'chunks', 'readline', 'readline-size', 'readlines', 'iter']) {
    await t.test(`${mode} with Content-Length: exact body, then EOF`, async () => {
      const doc = await post(mode, BODY);
      assert.equal(body(doc), BODY);
      assert.equal(doc.after, 0, 'read past the end returns b""');
      assert.equal(doc.content_length, String(Buffer.byteLength(BODY)));
    });
  }

  await t.test('readline() splits on \\n', async () => {
    assert.deepEqual(pieces(await post('readline', BODY)), LINES);
    assert.deepEqual(pieces(await post('readlines', BODY)), LINES);
    assert.deepEqual(pieces(await post('iter', BODY)), LINES);
  });

  await t.test('readline(5) returns at most 5 bytes per call', async () => {
    const got = pieces(await post('readline-size', BODY));
    assert.ok(got.every((p) => Buffer.byteLength(p) <= 5), JSON.stringify(got));
    assert.equal(got.join(''), BODY);
    assert.equal(got[0], 'first');
  });

  await t.test('read(7) loop over a 3 MiB binary body', async () => {
    const data = randomBytes(3 * 1024 * 1024);
    const res = await request(server.port, { method: 'POST', path: '/?mode=read', body: data }, { timeout: 30_000 });
    assert.equal(res.status, 200);
    const got = Buffer.from(res.json().body_b64, 'base64');
    assert.equal(createHash('sha256').update(got).digest('hex'), createHash('sha256').update(data).digest('hex'));
  });

  await t.test('no body: read() gives b""', async () => {
    const res = await request(server.port, { path: '/?mode=read' });
    assert.equal(res.status, 200);
    assert.equal(res.json().body_b64, '');
  });

  await t.test('Content-Length: 0', async () => {
    const doc = await post('read', '');
    assert.equal(body(doc), '');
  });

  for (const mode of ['read', 'readline', 'iter', 'chunks']) {
    await t.test(`chunked request body with ${mode}: exact de-chunked bytes`, async () => {
      const head = buildRequest({ method: 'POST', path: `/?mode=${mode}`, headers: [['Transfer-Encoding', 'chunked']] });
      const res = await request(server.port, { raw: Buffer.concat([head, chunked(BODY, 5)]) });
      assert.equal(res.status, 200, res.text());
      const doc = res.json();
      assert.equal(body(doc), BODY);
      assert.equal(doc.after, 0);
      // nodicorn streams chunked bodies like gunicorn: wsgi.input_terminated, no CONTENT_LENGTH.
      assert.equal(doc.input_terminated, true, JSON.stringify(doc));
    });
  }
});

test('echo app (validated): chunked body, input_terminated, split writes', async (t) => {
  const server = await serverFor(t, ['echo_app:app', '--chdir', APPS]);

  await t.test('chunked request -> exact body, wsgi.input_terminated', async () => {
    const payload = Buffer.from('chunk one|chunk two|the end'.repeat(100));
    const head = buildRequest({ method: 'POST', path: '/c', headers: [['Transfer-Encoding', 'chunked']] });
    const res = await request(server.port, { raw: Buffer.concat([head, chunked(payload, 333)]) });
    assert.equal(res.get('x-wsgi-validate'), undefined, res.text());
    assert.equal(res.status, 200);
    const doc = res.json();
    assert.ok(Buffer.from(doc.body_b64, 'base64').equals(payload));
    assert.equal(doc.wsgi.input_terminated, true);
    assert.equal(doc.environ.HTTP_CONTENT_LENGTH, undefined);
  });

  await t.test('chunked body whose last chunk arrives in a later write', async () => {
    const client = await RawClient.connect(server.port);
    try {
      await client.write(buildRequest({ method: 'POST', path: '/', headers: [['Transfer-Encoding', 'chunked']] }));
      await client.write('5\r\nhello\r\n');
      await new Promise((r) => setTimeout(r, 200));
      await client.write('6\r\n world\r\n0\r\n\r\n');
      const res = await client.readResponse();
      assert.equal(res.status, 200);
      assert.equal(Buffer.from(res.json().body_b64, 'base64').toString(), 'hello world');
    } finally {
      client.close();
    }
  });

  await t.test('request head and body split byte by byte still parse', async () => {
    const raw = buildRequest({ method: 'POST', path: '/split', body: 'abcdef', headers: [['X-A', '1']] });
    const client = await RawClient.connect(server.port);
    try {
      await client.writeSplit(raw, Array(raw.length).fill(1), 1);
      const res = await client.readResponse();
      assert.equal(res.status, 200);
      const doc = res.json();
      assert.equal(Buffer.from(doc.body_b64, 'base64').toString(), 'abcdef');
      assert.equal(doc.environ.HTTP_X_A, '1');
    } finally {
      client.close();
    }
  });

  await t.test('no validation failures were logged', () => {
    assert.deepEqual(server.validationFailures(), []);
  });
});
