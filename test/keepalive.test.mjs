// Persistent connections and pipelining (RFC 9112 §9).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { APPS, RawClient, buildRequest, serverFor, sleep } from './helpers.mjs';

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
      await c.write(buildRequest({ path: `/ka/${i}`, body: i % 2 ? `body ${i}` : null }));
      const res = await c.readResponse();
      assert.equal(res.status, 200);
      assert.equal(pathOf(res), `/ka/${i}`);
    }
    assert.equal(c.ended, false);
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
