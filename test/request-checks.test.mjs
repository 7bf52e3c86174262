// The checks llhttp leaves to the server (corpus README §9–10): each bad request gets a clean
// 400 and a closed connection, the server keeps serving, and a valid request is never eaten.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { APPS, rawExchange, serverFor } from './helpers.mjs';

const BAD = [
  ['duplicate Host', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'],
  ['Transfer-Encoding in HTTP/1.0', 'POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
  ['asterisk-form with GET', 'GET * HTTP/1.1\r\nHost: a\r\n\r\n'],
  ['HTTP/2.0 request line', 'GET / HTTP/2.0\r\nHost: a\r\n\r\n'],
  ['duplicate Content-Type', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\nContent-Type: text/html\r\nContent-Length: 2\r\n\r\nhi'],
];

test('requests llhttp lets through are rejected by the server', async (t) => {
  const server = await serverFor(t, ['echo_app:app', '--chdir', APPS]);
  for (const [name, raw] of BAD) {
    await t.test(name, async () => {
      const res = await rawExchange(server.port, raw);
      assert.deepEqual([res.status, res.closed], [400, true], name);
    });
  }

  await t.test('OPTIONS * is served with an empty PATH_INFO (PEP 3333)', async () => {
    const res = await rawExchange(server.port, 'OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n');
    assert.equal(res.status, 200);
    assert.equal(res.json().environ.PATH_INFO, '');
  });

  await t.test('CONNECT is answered 405, not dropped', async () => {
    const res = await rawExchange(server.port, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
    assert.equal(res.status, 405);
  });

  await t.test('bytes after Connection: close do not eat the valid response', async () => {
    const res = await rawExchange(server.port, 'GET /first HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /second HTTP/1.1\r\nHost: a\r\n\r\n');
    assert.equal(res.status, 200);
    assert.equal(res.json().environ.PATH_INFO, '/first');
    assert.equal(res.closed, true, 'connection left open');
  });

  await t.test('the server still serves after all of them', async () => {
    assert.equal((await rawExchange(server.port, 'GET /after HTTP/1.1\r\nHost: a\r\n\r\n')).status, 200);
  });
});
