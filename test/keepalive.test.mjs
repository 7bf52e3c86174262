// Persistent connections and pipelining (RFC 9112 §9).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { APPS } from './lib/paths.mjs';
import { serverFor } from './lib/server.mjs';
import { RawClient } from './lib/raw-client.mjs';
import { buildRequest } from './lib/http.mjs';
import { sleep } from './lib/wait.mjs';

const pathOf = (res) => res.json().environ.PATH_INFO;

test('keep-alive and pipelining', async (t) => {
  const server = await serverFor(t, ['echo_app:app', '--chdir', APPS, '-w', '2', '--threads', '2']);
  const connect = async () => {
    const c = await RawClient.connect(server.port);
    t.after(() => c.close());
    return c;
  };

  await t.test('HTTP/1.1: several requests on one connection', async () => {
    const c = await connect();
    for (let i = 0; i < 5; i++) {
      // POST for the bodies: a GET with a body is answered, then the connection closed.
      await c.write(buildRequest({ method: i % 2 ? 'POST' : 'GET', path: `/ka/${i}`, body: i % 2 ? `body ${i}` : null }));
      const res = await c.readResponse();
      assert.equal(res.status, 200);
      assert.equal(pathOf(res), `/ka/${i}`);
    }
    assert.equal(c.ended, false);
  });

  await t.test('a body bigger than one stream buffer, then another request on the connection', async () => {
    // 40 KB arrives in one read: more than the request stream holds (16 KiB), so the socket is
    // no longer read while the body waits for its reader. The body's end must restart reading,
    // or the next request is never read.
    const c = await connect();
    const body = 'b'.repeat(40_000);
    for (let i = 0; i < 3; i++) {
      await c.write(buildRequest({ method: 'POST', path: `/big/${i}`, body }));
      const res = await c.readResponse({ timeout: 2_000 });
      assert.equal(res.status, 200);
      assert.equal(pathOf(res), `/big/${i}`);
      assert.equal(Buffer.from(res.json().body_b64, 'base64').toString(), body);
    }
  });

  await t.test('HTTP/1.1 Connection: close -> answered, then closed', async () => {
    const c = await connect();
    await c.write(buildRequest({ path: '/bye', headers: [['Connection', 'close']] }));
    const res = await c.readResponse();
    assert.equal(res.status, 200);
    assert.match(res.get('connection') ?? '', /close/i);
    assert.equal(await c.waitClosed(2_000), true);
  });

  await t.test('HTTP/1.0 default: closed after the response', async () => {
    const c = await connect();
    await c.write(buildRequest({ path: '/old', version: '1.0' }));
    assert.equal((await c.readResponse()).status, 200);
    assert.equal(await c.waitClosed(2_000), true);
  });

  await t.test('HTTP/1.0 Connection: keep-alive stays open', async () => {
    const c = await connect();
    await c.write(buildRequest({ path: '/old-ka/1', version: '1.0', headers: [['Connection', 'keep-alive']] }));
    const res = await c.readResponse();
    assert.equal(res.status, 200);
    assert.match(res.get('connection') ?? '', /keep-alive/i);
    await c.write(buildRequest({ path: '/old-ka/2', version: '1.0', headers: [['Connection', 'keep-alive']] }));
    assert.equal(pathOf(await c.readResponse()), '/old-ka/2');
  });

  await t.test('pipelining: 3 requests in one write, 3 responses in order', async () => {
    const c = await connect();
    await c.write(Buffer.concat([
      buildRequest({ path: '/p/1' }),
      buildRequest({ method: 'POST', path: '/p/2', body: 'second body' }),
      buildRequest({ path: '/p/3' }),
    ]));
    const got = [];
    for (let i = 0; i < 3; i++) got.push(await c.readResponse());
    assert.deepEqual(got.map(pathOf), ['/p/1', '/p/2', '/p/3']);
    assert.equal(Buffer.from(got[1].json().body_b64, 'base64').toString(), 'second body');
  });

  await t.test('pipelining: 25 HTTP/1.0 keep-alive requests, the last with Connection: close', async () => {
    const c = await connect();
    const reqs = [];
    for (let i = 0; i < 25; i++) {
      reqs.push(buildRequest({ path: `/pp/${i}`, version: '1.0', headers: [['Connection', i === 24 ? 'close' : 'keep-alive']] }));
    }
    await c.write(Buffer.concat(reqs));
    const paths = [];
    for (let i = 0; i < 25; i++) paths.push(pathOf(await c.readResponse({ timeout: 15_000 })));
    assert.deepEqual(paths, Array.from({ length: 25 }, (_, i) => `/pp/${i}`));
    assert.equal(await c.waitClosed(2_000), true);
  });

  await t.test('bytes after a Connection: close request in the same packet: first answered, rest ignored', async () => {
    const c = await connect();
    await c.write(Buffer.concat([
      buildRequest({ path: '/first', headers: [['Connection', 'close']] }),
      buildRequest({ path: '/smuggled' }),
    ]));
    const res = await c.readResponse();
    assert.equal(res.status, 200, 'the valid first request is answered (not a 400)');
    assert.equal(pathOf(res), '/first');
    assert.equal(await c.waitClosed(2_000), true);
    assert.ok(!c.pending().toString('latin1').includes('HTTP/1.1'), 'no second response');
  });

  await t.test('bytes after an HTTP/1.0 request in the same packet: first answered, rest ignored', async () => {
    const c = await connect();
    await c.write(Buffer.concat([buildRequest({ path: '/old-first', version: '1.0' }), Buffer.from('NOT HTTP AT ALL\r\n\r\n')]));
    const res = await c.readResponse();
    assert.equal(res.status, 200, 'the valid HTTP/1.0 request is answered (not a 400)');
    assert.equal(pathOf(res), '/old-first');
    assert.equal(await c.waitClosed(2_000), true);
    assert.equal(c.pending().length, 0, 'nothing after the first response');
  });

  await t.test('pipelined requests, then a malformed one, in one packet: all valid ones answered in order, then 400', async () => {
    const c = await connect();
    await c.write(Buffer.concat([
      buildRequest({ path: '/q/1' }),
      buildRequest({ method: 'POST', path: '/q/2', body: 'two' }),
      buildRequest({ path: '/q/3' }),
      Buffer.from('GET /q/4 HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n'),
    ]));
    const got = [];
    for (let i = 0; i < 3; i++) got.push(await c.readResponse());
    assert.deepEqual(got.map((r) => [r.status, pathOf(r)]), [[200, '/q/1'], [200, '/q/2'], [200, '/q/3']]);
    assert.equal((await c.readResponse()).status, 400, 'the parse error is answered after the owed responses');
    assert.equal(await c.waitClosed(2_000), true);
  });

  await t.test('a valid request, then a chunked one with a broken chunk size: 200, then 400 for the broken one', async () => {
    const c = await connect();
    await c.write(Buffer.concat([
      buildRequest({ path: '/r/1' }),
      Buffer.from('POST /r/2 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n'),
    ]));
    const first = await c.readResponse();
    assert.deepEqual([first.status, pathOf(first)], [200, '/r/1']);
    assert.equal((await c.readResponse()).status, 400);
    assert.equal(await c.waitClosed(2_000), true);
  });

  await t.test('a client that half-closes right after its request still gets the response, then the close', async () => {
    for (const version of ['1.0', '1.1']) {
      const c = await connect();
      await c.write(buildRequest({ method: 'POST', path: `/half/${version}`, version, body: 'abc' }));
      c.socket.end();
      const res = await c.readResponse();
      assert.deepEqual([res.status, pathOf(res)], [200, `/half/${version}`]);
      assert.equal(Buffer.from(res.json().body_b64, 'base64').toString(), 'abc');
      assert.equal(await c.waitClosed(2_000), true);
    }
  });

  await t.test('a request split over two writes with a pause', async () => {
    const c = await connect();
    const raw = buildRequest({ method: 'POST', path: '/slowly', body: 'x'.repeat(100) });
    await c.write(raw.subarray(0, 20));
    await sleep(300);
    await c.write(raw.subarray(20));
    assert.equal(pathOf(await c.readResponse()), '/slowly');
  });
});

test('--keep-alive 1: an idle connection is closed by the server', async (t) => {
  const server = await serverFor(t, ['echo_app:app', '--chdir', APPS, '--keep-alive', '1']);
  const c = await RawClient.connect(server.port);
  t.after(() => c.close());
  await c.write(buildRequest({ path: '/idle' }));
  assert.equal((await c.readResponse()).status, 200);
  const started = Date.now();
  assert.equal(await c.waitClosed(5_000), true, 'closed after the keep-alive timeout');
  assert.ok(Date.now() - started >= 500, 'not closed right away');
});

test('--keep-alive 0: every response closes its connection', async (t) => {
  const server = await serverFor(t, ['echo_app:app', '--chdir', APPS, '--keep-alive', '0']);
  const c = await RawClient.connect(server.port);
  t.after(() => c.close());
  await c.write(buildRequest({ path: '/once' }));
  const res = await c.readResponse();
  assert.equal(res.status, 200);
  assert.match(res.get('connection') ?? '', /close/i);
  assert.equal(await c.waitClosed(2_000), true);
});

test('pipelined big answers that overtake each other in the worker still arrive whole, in order', async (t) => {
  // Two threads answer both requests at once: the second answer's bytes come while the first
  // is still being written, wait behind it, then go out when it ends. Whoever waits for room
  // for them must hear of it, or the connection stalls.
  const server = await serverFor(t, ['mixed_app:app', '--chdir', APPS, '-w', '1', '--threads', '2']);
  const c = await RawClient.connect(server.port);
  t.after(() => c.close());
  await c.write(buildRequest({ path: '/download?mb=3&piece=64' }) + buildRequest({ path: '/download?mb=2&piece=64' }));
  const first = await c.readResponse({ timeout: 20_000 });
  const second = await c.readResponse({ timeout: 20_000 });
  assert.equal(first.status, 200);
  assert.equal(first.body.length, 3 * 1024 * 1024);
  assert.equal(second.status, 200);
  assert.equal(second.body.length, 2 * 1024 * 1024);
});

