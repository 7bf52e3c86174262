// HEAD: same head as GET, no body bytes on the wire, the connection stays usable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { APPS } from './lib/paths.mjs';
import { serverFor } from './lib/server.mjs';
import { RawClient } from './lib/raw-client.mjs';
import { buildRequest, request } from './lib/http.mjs';

test('HEAD', async (t) => {
  const echo = await serverFor(t, ['echo_app:app', '--chdir', APPS]);
  const gen = await serverFor(t, ['generator_app:app', '--chdir', APPS]);

  await t.test('HEAD to the echo app: headers like GET, no body, next request parses', async () => {
    const client = await RawClient.connect(echo.port);
    try {
      await client.write(buildRequest({ method: 'HEAD', path: '/h' }));
      const head = await client.readResponse({ head: true });
      assert.equal(head.status, 200);
      assert.ok(head.get('x-echo'), 'X-Echo header');
      const doc = JSON.parse(Buffer.from(head.get('x-echo'), 'base64').toString());
      assert.equal(doc.environ.REQUEST_METHOD, 'HEAD');
      assert.equal(head.get('content-length'), String(Buffer.from(head.get('x-echo'), 'base64').length));
      // If body bytes had been sent, they would now be parsed as the next status line.
      await client.write(buildRequest({ method: 'GET', path: '/after-head' }));
      const next = await client.readResponse();
      assert.equal(next.status, 200);
      assert.equal(next.json().environ.PATH_INFO, '/after-head');
    } finally {
      client.close();
    }
  });

  await t.test('HEAD to a generator app without Content-Length: no body, no chunk bytes', async () => {
    const client = await RawClient.connect(gen.port);
    try {
      await client.write(buildRequest({ method: 'HEAD', path: '/?n=3&delay=0' }));
      const head = await client.readResponse({ head: true });
      assert.equal(head.status, 200);
      await client.write(buildRequest({ method: 'GET', path: '/?n=1&delay=0&cl=1' }));
      const next = await client.readResponse();
      assert.equal(next.status, 200);
      assert.equal(next.text(), 'chunk-0\n');
    } finally {
      client.close();
    }
  });

  await t.test('HEAD over HTTP/1.0: no body before close', async () => {
    const client = await RawClient.connect(echo.port);
    try {
      await client.write(buildRequest({ method: 'HEAD', path: '/', version: '1.0' }));
      const head = await client.readResponse({ head: true });
      assert.equal(head.status, 200);
      assert.equal(await client.waitClosed(2000), true);
      assert.equal(client.pending().length, 0, 'no bytes after the head');
    } finally {
      client.close();
    }
  });

  await t.test('no validation failures were logged', () => {
    assert.deepEqual([...echo.validationFailures(), ...gen.validationFailures()], []);
  });
});
