// Expect: 100-continue on routes whose bodies stream to the app (--stream-request-paths): the
// interim 100 is sent when the app reads the body, never to an app that ignores it, never twice,
// never after the final status. (Buffered bodies get their 100 from Node at once: buffering.test.mjs.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { APPS } from './lib/paths.mjs';
import { serverFor } from './lib/server.mjs';
import { RawClient } from './lib/raw-client.mjs';
import { buildRequest } from './lib/http.mjs';

const head = (path, length) => buildRequest({
  method: 'POST', path, headers: [['Content-Length', String(length)], ['Expect', '100-continue'], ['Content-Type', 'text/plain']],
});

const STREAMED = ['--stream-request-paths', '/'];

test('Expect: 100-continue, app reads the body', async (t) => {
  const server = await serverFor(t, ['echo_app:app', '--chdir', APPS, ...STREAMED]);
  const client = await RawClient.connect(server.port);
  t.after(() => client.close());
  await client.write(head('/upload', 11));
  const interim = await client.readResponse({ keepInterim: true, timeout: 5_000 });
  assert.equal(interim.status, 100, 'the client waits for 100 Continue before sending the body');
  await client.write('hello world');
  const res = await client.readResponse();
  assert.equal(res.status, 200);
  assert.equal(Buffer.from(res.json().body_b64, 'base64').toString(), 'hello world');
  assert.equal(res.interim.length, 0, 'only one 100 Continue');
});

test('Expect: 100-continue, body sent at once anyway: one 200, at most one 100 before it', async (t) => {
  const server = await serverFor(t, ['echo_app:app', '--chdir', APPS, ...STREAMED]);
  const client = await RawClient.connect(server.port);
  t.after(() => client.close());
  await client.write(Buffer.concat([head('/eager', 5), Buffer.from('eager')]));
  const res = await client.readResponse();
  assert.equal(res.status, 200);
  assert.ok(res.interim.length <= 1);
  assert.ok(res.interim.every((r) => r.status === 100));
  assert.equal(Buffer.from(res.json().body_b64, 'base64').toString(), 'eager');
  // Still usable, and no stray 100 shows up later.
  await client.write(buildRequest({ path: '/next' }));
  const next = await client.readResponse();
  assert.equal(next.status, 200);
  assert.equal(next.interim.length, 0);
});

test('Expect: 100-continue, app ignores the body: final response, no 100', async (t) => {
  const server = await serverFor(t, ['hello_app:app', '--chdir', APPS, ...STREAMED]);
  const client = await RawClient.connect(server.port);
  t.after(() => client.close());
  await client.write(head('/ignored', 1_000_000));
  const first = await client.readResponse({ keepInterim: true, timeout: 5_000 });
  assert.equal(first.status, 200, `expected the final response first, got ${first.status}`);
  assert.equal(first.text(), 'hello');
});
