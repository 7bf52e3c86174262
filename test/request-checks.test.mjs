// The checks llhttp leaves to the server (corpus README §9–10): each bad request gets a clean
// 400 and a closed connection, the server keeps serving, and a valid request is never eaten.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { APPS, RawClient, rawExchange, serverFor, sleep } from './helpers.mjs';

const BAD = [
  ['duplicate Host', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'],
  ['Transfer-Encoding in HTTP/1.0', 'POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
  ['asterisk-form with GET', 'GET * HTTP/1.1\r\nHost: a\r\n\r\n'],
  // llhttp parses these; they are no target form, and PATH_INFO would not start with "/".
  ['a target of "*" and more (GET */x)', 'GET */x HTTP/1.1\r\nHost: a\r\n\r\n'],
  ['a target of "*" and more (OPTIONS *x)', 'OPTIONS *x HTTP/1.1\r\nHost: a\r\n\r\n'],
  ['HTTP/2.0 request line', 'GET / HTTP/2.0\r\nHost: a\r\n\r\n'],
  ['duplicate Content-Type', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\nContent-Type: text/html\r\nContent-Length: 2\r\n\r\nhi'],
  ['HTTP/1.1 without Host', 'GET / HTTP/1.1\r\nAccept: */*\r\n\r\n'],
  ['Transfer-Encoding not ending in chunked', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n'],
  ['chunked twice', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n'],
  ['a Content-Length lookalike (Content_Length)', 'POST / HTTP/1.1\r\nHost: a\r\nContent_Length: 5\r\n\r\nhello'],
  ['a Transfer-Encoding lookalike (Transfer---Encoding)', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer---Encoding: chunked\r\n\r\n0\r\n\r\n'],
  ['Host in the chunked trailer', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nHost: evil\r\n\r\n'],
];

test('requests llhttp lets through are rejected by the server', async (t) => {
  const server = await serverFor(t, ['echo_app:app', '--chdir', APPS]);
  for (const [name, raw] of BAD) {
    await t.test(name, async () => {
      const res = await rawExchange(server.port, raw);
      assert.deepEqual([res.status, res.closed], [400, true], name);
    });
  }

  await t.test('a transfer coding before chunked is not understood: 501', async () => {
    const res = await rawExchange(server.port, 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n');
    assert.deepEqual([res.status, res.closed], [501, true]);
  });

  await t.test('an allowed trailer (Content-Type) is dropped, the body served', async () => {
    const res = await rawExchange(server.port, 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nContent-Type: text/plain\r\n\r\n');
    assert.equal(res.status, 200);
    assert.equal(Buffer.from(res.json().body_b64, 'base64').toString(), 'hello');
    assert.equal(res.json().environ.CONTENT_TYPE, undefined, 'trailers never reach environ');
  });

  await t.test('a GET with a body is answered, then the connection is closed (RFC 9110 §9.3.1)', async () => {
    const c = await RawClient.connect(server.port);
    try {
      await c.write('GET /with-body HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET /next HTTP/1.1\r\nHost: a\r\n\r\n');
      const res = await c.readResponse();
      assert.equal(res.status, 200);
      assert.equal(Buffer.from(res.json().body_b64, 'base64').toString(), 'hello');
      assert.equal(await c.waitClosed(2_000), true, 'connection reused after a GET with a body');
      assert.equal(c.pending().length, 0, 'the request behind it was answered');
    } finally {
      c.close();
    }
  });

  await t.test('OPTIONS * is served with an empty PATH_INFO (PEP 3333)', async () => {
    const res = await rawExchange(server.port, 'OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n');
    assert.equal(res.status, 200);
    assert.equal(res.json().environ.PATH_INFO, '');
  });

  await t.test('CONNECT is answered 405, not dropped', async () => {
    const res = await rawExchange(server.port, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
    assert.equal(res.status, 405);
  });

  await t.test('a client that resets the connection right after a CONNECT does not take the server down', async () => {
    // node:http hands a CONNECT's socket over without an 'error' listener: the reset (read
    // ECONNRESET) used to be an unhandled 'error' event, which ended the Node process.
    for (const delay of [0, 5, 30]) {
      await new Promise((resolve, reject) => {
        const socket = net.connect(server.port, '127.0.0.1', () => {
          socket.write('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\nbytes the server never reads');
          setTimeout(() => (socket.resetAndDestroy(), resolve()), delay);
        });
        socket.on('error', reject);
      });
      await sleep(100);
      assert.equal(server.exitInfo, null, `the server exited (reset ${delay} ms after the CONNECT)`);
      assert.equal((await rawExchange(server.port, 'GET /alive HTTP/1.1\r\nHost: a\r\n\r\n')).status, 200);
    }
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

test('a request pipelined behind a refused one never reaches the app', async (t) => {
  const server = await serverFor(t, ['printing_app:app', '--chdir', APPS, '--threads', '1', '--capture-output']);
  const c = await RawClient.connect(server.port);
  try {
    await c.write('GET /?tag=refused HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\nGET /?tag=smuggled HTTP/1.1\r\nHost: a\r\n\r\n');
    assert.equal((await c.readResponse()).status, 400);
    assert.equal(await c.waitClosed(2_000), true);
  } finally {
    c.close();
  }
  await assertNeverRan(server, ['smuggled', 'refused']);
});

/**
 * With printing_app and one worker thread, requests run in order: once a later request has
 * printed its tag, any of `tags` that had been dispatched would have printed before it.
 */
async function assertNeverRan(server, tags) {
  const res = await rawExchange(server.port, 'GET /?tag=after HTTP/1.1\r\nHost: a\r\n\r\n');
  assert.equal(res.status, 200);
  await server.waitStderr(/PRINT-STDOUT after/);
  for (const tag of tags) assert.ok(!server.stderrText().includes(`PRINT-STDOUT ${tag}`), `the app ran the request tagged ${tag}`);
}

test('a client that ends its side before its body is whole gets 400, Upgrade or not, and the app never runs', async (t) => {
  const server = await serverFor(t, ['printing_app:app', '--chdir', APPS, '--threads', '1', '--capture-output']);
  const upgrade = 'Connection: Upgrade\r\nUpgrade: HTTP/2.0\r\n';
  for (const [tag, extra] of [['plain', ''], ['upgrade', upgrade]]) {
    await t.test(tag, async () => {
      const c = await RawClient.connect(server.port);
      try {
        await c.write(`POST /?tag=${tag} HTTP/1.1\r\nHost: a\r\n${extra}Content-Length: 15\r\n\r\nsweet pos`);
        c.socket.end();
        // Well before the 30 s body timeout: the FIN itself settles it.
        assert.equal((await c.readResponse({ timeout: 5_000 })).status, 400);
        assert.equal(await c.waitClosed(2_000), true);
      } finally {
        c.close();
      }
    });
  }
  await assertNeverRan(server, ['plain', 'upgrade']);
});
