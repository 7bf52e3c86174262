// HTTP/2 negotiated by ALPN (--http-protocols h2,h1) through the same request path as HTTP/1:
// the environ (SERVER_PROTOCOL, pseudo-headers, cookies), bodies both ways, streaming, concurrent
// streams on one connection, file_wrapper and flow control, stream resets, the limits, the access
// log, idle and graceful closing, HTTP/1.1 on the same port, and Flask over HTTP/2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http2 from 'node:http2';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { APPS, EXAMPLES, pythonHas } from './lib/paths.mjs';
import { runCli, serverFor } from './lib/server.mjs';
import { RawClient } from './lib/raw-client.mjs';
import { sleep } from './lib/wait.mjs';
import { h2connect, h2request, httpsRequest, makeCerts, tlsArgs } from './tls-helpers.mjs';

const certs = makeCerts();
test.after(() => certs.cleanup());

const FILE_SIZE = 3 * 1024 * 1024 + 123; // filewrapper_app's file: byte i = i % 251

function fileSha() {
  const buf = Buffer.alloc(FILE_SIZE);
  for (let i = 0; i < FILE_SIZE; i++) buf[i] = i % 251;
  return createHash('sha256').update(buf).digest('hex');
}

const h2args = (...more) => [...tlsArgs(certs), '--http-protocols', 'h2,h1', ...more];

test('HTTP/2 through the WSGI request path', async (t) => {
  const server = await serverFor(t, ['mux_app:app', '--chdir', APPS, ...h2args('-w', '1', '--threads', '4', '--access-logfile', '-')]);
  const session = await h2connect(t, server.port, certs);

  await t.test('ALPN picks h2; environ: SERVER_PROTOCOL, target, Host from :authority, no pseudo-headers', async () => {
    assert.equal(session.alpnProtocol, 'h2');
    assert.equal(session.remoteSettings.maxConcurrentStreams, 100);
    const res = await h2request(session, { path: '/echo/caf%C3%A9/x?q=1&r=%20', headers: { 'x-dup': ['1', '2'], 'user-agent': 'h2-test' } });
    assert.equal(res.status, 200);
    const { environ, wsgi } = res.json();
    assert.equal(environ.SERVER_PROTOCOL, 'HTTP/2');
    assert.equal(wsgi.url_scheme, 'https');
    assert.equal(environ.REQUEST_METHOD, 'GET');
    assert.equal(environ.SCRIPT_NAME, '/echo');
    assert.equal(environ.PATH_INFO, '/caf\u00c3\u00a9/x'); // latin-1 of the UTF-8 bytes (PEP 3333)
    assert.equal(environ.QUERY_STRING, 'q=1&r=%20');
    assert.equal(environ.RAW_URI, '/echo/caf%C3%A9/x?q=1&r=%20');
    assert.equal(environ.HTTP_HOST, `localhost:${server.port}`);
    assert.equal(environ.HTTP_X_DUP, '1,2');
    assert.equal(environ.HTTP_USER_AGENT, 'h2-test');
    assert.equal(environ.REMOTE_ADDR, '127.0.0.1');
    assert.equal(environ.CONTENT_LENGTH, undefined);
    assert.deepEqual(Object.keys(environ).filter((k) => k.includes(':') || /^HTTP_(METHOD|PATH|SCHEME|AUTHORITY)$/.test(k)), []);
  });

  await t.test('cookie fields are joined with "; " (RFC 9113 §8.2.3)', async () => {
    const res = await h2request(session, { path: '/echo/cookies', headers: { cookie: ['a=1', 'b=2', 'c=3'] } });
    assert.equal(res.json().environ.HTTP_COOKIE, 'a=1; b=2; c=3');
  });

  await t.test('a Host naming another authority than :authority is refused with 400', async () => {
    const res = await h2request(session, { path: '/echo/host', headers: { ':authority': `localhost:${server.port}`, host: 'elsewhere.example' } });
    assert.equal(res.status, 400);
    const same = await h2request(session, { path: '/echo/host', headers: { ':authority': `localhost:${server.port}`, host: `localhost:${server.port}` } });
    assert.equal(same.status, 200);
  });

  await t.test('POST with Content-Length: the body, CONTENT_LENGTH set', async () => {
    const body = Buffer.from('h2 body ✓ '.repeat(300));
    const res = await h2request(session, { method: 'POST', path: '/echo/post', body, headers: { 'content-length': String(body.length), 'content-type': 'text/plain' } });
    assert.equal(res.status, 200);
    const doc = res.json();
    assert.equal(doc.environ.CONTENT_LENGTH, String(body.length));
    assert.equal(doc.environ.CONTENT_TYPE, 'text/plain');
    assert.equal(doc.wsgi.input_terminated, false);
    assert.ok(Buffer.from(doc.body_b64, 'base64').equals(body));
  });

  await t.test('POST without Content-Length: read to the end of the stream (wsgi.input_terminated)', async () => {
    const parts = ['first,', 'second,', 'third'];
    const res = await h2request(session, {
      method: 'POST', path: '/echo/stream-up', keepOpen: true,
      onStream: (stream) => {
        void (async () => {
          for (const p of parts) {
            stream.write(p);
            await sleep(50);
          }
          stream.end();
        })();
      },
    });
    assert.equal(res.status, 200);
    const doc = res.json();
    assert.equal(doc.environ.CONTENT_LENGTH, undefined);
    assert.equal(doc.wsgi.input_terminated, true);
    assert.equal(Buffer.from(doc.body_b64, 'base64').toString(), parts.join(''));
  });

  await t.test('Expect: 100-continue: the interim response comes when the app reads the body', async () => {
    let continued = false;
    const res = await h2request(session, {
      method: 'POST', path: '/echo/expect', keepOpen: true, headers: { expect: '100-continue', 'content-length': '5' },
      onStream: (stream) => stream.once('continue', () => { continued = true; stream.end('hello'); }),
    });
    assert.equal(continued, true);
    assert.equal(res.status, 200);
    assert.equal(Buffer.from(res.json().body_b64, 'base64').toString(), 'hello');
  });

  await t.test('a streaming response arrives in pieces before the app finishes', async () => {
    const start = performance.now();
    const res = await h2request(session, { path: '/gen/?n=5&delay=0.4' });
    assert.equal(res.status, 200);
    assert.equal(res.text(), [0, 1, 2, 3, 4].map((i) => `chunk-${i}\n`).join(''));
    assert.equal(res.headers['content-length'], undefined);
    assert.ok(res.chunkTimes.length >= 3, `several DATA chunks, got ${res.chunkTimes.length}`);
    // The generator sleeps 4 x 0.4 s: the first chunk must not wait for the last.
    const firstToEnd = res.endAt - res.chunkTimes[0];
    assert.ok(firstToEnd >= 1000, `first chunk ${Math.round(res.chunkTimes[0] - start)} ms, end ${Math.round(res.endAt - start)} ms`);
  });

  await t.test('concurrent streams on one connection reach the app at the same time', async () => {
    const results = await Promise.all([0, 1, 2, 3].map(() => h2request(session, { path: '/barrier/?n=4&key=h2-concurrent' })));
    for (const res of results) {
      assert.equal(res.status, 200);
      assert.equal(res.text(), 'met 4');
    }
  });

  await t.test('HEAD: headers with Content-Length, no body', async () => {
    const res = await h2request(session, { method: 'HEAD', path: '/file/raw' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-length'], String(FILE_SIZE));
    assert.equal(res.body.length, 0);
  });

  await t.test('file_wrapper (3 MB, past the flow-control windows), with and without Content-Length', async () => {
    const sha = fileSha();
    for (const target of ['/file/raw', '/file/raw-nocl', '/file/validated']) {
      const res = await h2request(session, { path: target, timeout: 60_000 });
      assert.equal(res.status, 200, target);
      assert.equal(res.body.length, FILE_SIZE, target);
      assert.equal(createHash('sha256').update(res.body).digest('hex'), sha, target);
    }
  });

  await t.test('a stream reset by the client aborts its exchange (close() runs); the connection serves on', async () => {
    const tag = `h2reset${process.pid}`;
    let received = 0;
    await h2request(session, {
      path: `/close/slow?id=${tag}&n=2000&delay=0.02`,
      onStream: (stream) => {
        stream.on('data', (chunk) => { received += chunk.length; });
        stream.once('data', () => stream.close(http2.constants.NGHTTP2_CANCEL));
      },
    }).catch(() => null);
    assert.ok(received < 2000 * 16384 / 2, `the reset cut the body (${received} bytes)`);
    await server.waitStderr(new RegExp(`CLOSE-CALLED ${tag}`), 15_000);
    const res = await h2request(session, { path: '/echo/after-reset' });
    assert.equal(res.status, 200);
  });

  await t.test('CONNECT is refused with 405, the connection serves on', async () => {
    const res = await h2request(session, { method: 'CONNECT', path: null, headers: { ':authority': 'example.com:443' } });
    assert.equal(res.status, 405);
    assert.equal((await h2request(session, { path: '/echo/after-connect' })).status, 200);
  });

  await t.test('HTTP/1.1 clients on the same port: without ALPN, and offering http/1.1', async () => {
    for (const alpn of [undefined, ['http/1.1']]) {
      const res = await httpsRequest(server.port, { path: '/echo/h1', ca: certs.ca, alpn });
      assert.equal(res.status, 200);
      assert.equal(res.httpVersion, '1.1');
      assert.equal(res.json().environ.SERVER_PROTOCOL, 'HTTP/1.1');
      assert.equal(res.json().wsgi.url_scheme, 'https');
    }
  });

  await t.test('plain HTTP bytes on the port: the connection ends, the server goes on', async () => {
    const client = await RawClient.connect(server.port);
    await client.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
    assert.equal(await client.waitClosed(10_000), true);
    assert.equal((await h2request(session, { path: '/echo/after-plain' })).status, 200);
    assert.equal(server.exitInfo, null);
  });

  await t.test('the access log shows HTTP/2.0 and the client address', async () => {
    await server.waitStdout(/^127\.0\.0\.1 - - \[[^\]]+\] "GET \/echo\/cookies HTTP\/2\.0" 200 \d+ "-" "-"$/, 10_000);
    await server.waitStdout(/"POST \/echo\/post HTTP\/2\.0" 200 /, 10_000);
    await server.waitStdout(/"GET \/echo\/h1 HTTP\/1\.1" 200 /, 10_000);
  });
});

test('HTTP/2 and the request limits', async (t) => {
  const server = await serverFor(t, ['echo_app:app', '--chdir', APPS, ...h2args('--limit-request-fields', '5', '--limit-request-line', '100', '--limit-request-body', '50')]);
  const session = await h2connect(t, server.port, certs);
  const fields = (n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`x-f${i}`, 'v']));

  await t.test('--limit-request-fields counts header fields, not the pseudo-headers', async () => {
    assert.equal((await h2request(session, { path: '/five', headers: fields(5) })).status, 200);
    assert.equal((await h2request(session, { path: '/six', headers: fields(6) })).status, 431);
  });

  await t.test('--limit-request-line applies to :method and :path', async () => {
    assert.equal((await h2request(session, { path: `/${'a'.repeat(60)}` })).status, 200);
    assert.equal((await h2request(session, { path: `/${'a'.repeat(120)}` })).status, 414);
  });

  await t.test('--limit-request-body, by Content-Length and by counting a stream without one', async () => {
    const big = Buffer.alloc(80, 0x61);
    assert.equal((await h2request(session, { method: 'POST', path: '/cl', body: big, headers: { 'content-length': '80' } })).status, 413);
    assert.equal((await h2request(session, { method: 'POST', path: '/nocl', body: big })).status, 413);
    const small = await h2request(session, { method: 'POST', path: '/small', body: Buffer.alloc(40, 0x62) });
    assert.equal(small.status, 200);
    assert.equal(Buffer.from(small.json().body_b64, 'base64').length, 40);
  });
});

test('--keep-alive closes idle HTTP/2 connections; shutdown sends GOAWAY', async (t) => {
  const server = await serverFor(t, ['echo_app:app', '--chdir', APPS, ...h2args('--keep-alive', '1')]);

  await t.test('an idle connection is closed after --keep-alive', async () => {
    const session = await h2connect(t, server.port, certs);
    const closed = new Promise((resolve) => session.once('close', resolve));
    assert.equal((await h2request(session, { path: '/once' })).status, 200);
    const outcome = await Promise.race([closed.then(() => 'closed'), sleep(15_000).then(() => 'still open')]);
    assert.equal(outcome, 'closed');
  });

  await t.test('SIGTERM: open connections get GOAWAY and the server exits 0', async () => {
    const session = await h2connect(t, server.port, certs);
    assert.equal((await h2request(session, { path: '/before-stop' })).status, 200);
    const goaway = new Promise((resolve) => session.once('goaway', () => resolve('goaway')));
    const stopped = server.stop('SIGTERM');
    assert.equal(await Promise.race([goaway, sleep(15_000).then(() => 'no goaway')]), 'goaway');
    assert.equal((await stopped).code, 0);
  });
});

test('--http-protocols h2 alone refuses HTTP/1.1 clients', async (t) => {
  const server = await serverFor(t, ['echo_app:app', '--chdir', APPS, ...tlsArgs(certs), '--http-protocols', 'h2', '--log-level', 'debug']);
  const session = await h2connect(t, server.port, certs);
  const res = await h2request(session, { path: '/h2-only' });
  assert.equal(res.status, 200);
  assert.equal(res.json().environ.SERVER_PROTOCOL, 'HTTP/2');
  await assert.rejects(httpsRequest(server.port, { path: '/h1', ca: certs.ca, alpn: ['http/1.1'] }));
  await assert.rejects(httpsRequest(server.port, { path: '/h1', ca: certs.ca }));
  assert.equal((await h2request(session, { path: '/still' })).status, 200);
});

test('Flask over HTTP/2', { skip: !pythonHas('flask') && 'flask is not installed for the test python' }, async (t) => {
  const server = await serverFor(t, ['app:app', '--chdir', path.join(EXAMPLES, 'flask_app'), ...h2args('--threads', '2')]);
  const session = await h2connect(t, server.port, certs);

  const page = await h2request(session, { path: '/' });
  assert.equal(page.status, 200);
  assert.match(page.headers['content-type'], /^text\/html/);
  assert.match(page.text(), /Hello from Flask on nodicorn/);

  const form = new URLSearchParams({ name: 'Grace Hopper', message: 'über h2' }).toString();
  const post = await h2request(session, {
    method: 'POST', path: '/guestbook', body: form,
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(Buffer.byteLength(form)) },
  });
  assert.equal(post.status, 303);
  assert.match(post.headers.location, /\/guestbook\?thanks=Grace/);
  const after = await h2request(session, { path: '/guestbook?thanks=Grace+Hopper' });
  assert.match(after.text(), /<b>Grace Hopper<\/b>: über h2/);
});

test("gunicorn's http2_* settings are what each session advertises; a frame size out of range is one error line", async (t) => {
  const server = await serverFor(t, ['mux_app:app', '--chdir', APPS, ...h2args('-w', '1',
    '--http2-max-concurrent-streams', '7', '--http2-initial-window-size', '1048576',
    '--http2-max-frame-size', '32768', '--http2-max-header-list-size', '4000')]);
  const session = await h2connect(t, server.port, certs);
  await new Promise((resolve) => (session.remoteSettings.maxConcurrentStreams === 7 ? resolve() : session.once('remoteSettings', resolve)));
  const s = session.remoteSettings;
  assert.equal(s.maxConcurrentStreams, 7);
  assert.equal(s.initialWindowSize, 1048576);
  assert.equal(s.maxFrameSize, 32768);
  assert.equal(s.maxHeaderListSize, 4000, 'under what the request limits allow, so this one is advertised');
  const res = await h2request(session, { path: '/echo/x' });
  assert.equal(res.status, 200);

  const bad = await runCli(['mux_app:app', '--chdir', APPS, ...h2args('--http2-max-frame-size', '100')]);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /--http2-max-frame-size .*expected a whole number from 16384 to 16777215, got "?100/);
});
