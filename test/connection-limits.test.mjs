// What a connection may cost the server: --header-timeout (slowloris: 408 and close) and
// --worker-connections (past it, 503 and close; the open connections are still served).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { APPS } from './lib/paths.mjs';
import { serverFor } from './lib/server.mjs';
import { ConnectionClosedError, RawClient } from './lib/raw-client.mjs';
import { buildRequest, request } from './lib/http.mjs';
import { sleep } from './lib/wait.mjs';

async function connect(t, port) {
  const c = await RawClient.connect(port);
  t.after(() => c.close());
  return c;
}

test('--header-timeout: a head that does not arrive in time gets 408 and the connection closes', async (t) => {
  const server = await serverFor(t, ['hello_app:app', '--chdir', APPS, '--header-timeout', '1', '--log-level', 'debug']);

  await t.test('a connection that sends nothing', async (t) => {
    const c = await connect(t, server.port);
    const started = performance.now();
    const res = await c.readResponse({ timeout: 6_000 });
    assert.equal(res.status, 408);
    assert.ok(performance.now() - started >= 900, 'not before --header-timeout');
    assert.equal(await c.waitClosed(2_000), true);
  });

  await t.test('a head trickled one byte every 100 ms (slowloris)', async (t) => {
    const c = await connect(t, server.port);
    const head = buildRequest({ path: '/', headers: [['X-Slow', 'a'.repeat(100)]] });
    let res = null;
    const reading = c.readResponse({ timeout: 8_000 }).then((r) => (res = r));
    for (let i = 0; i < head.length - 1 && res === null; i++) {
      await c.write(head.subarray(i, i + 1)).catch(() => {});
      await sleep(100);
    }
    await reading;
    assert.equal(res.status, 408);
    assert.equal(await c.waitClosed(2_000), true);
    await server.waitStderr(/DEBUG.*ERR_HTTP_REQUEST_TIMEOUT/, 2_000);
  });

  await t.test('a later head on a kept-alive connection, trickled: timed from its first byte', async (t) => {
    const c = await connect(t, server.port);
    await c.write(buildRequest({ path: '/first' }));
    assert.equal((await c.readResponse({ timeout: 5_000 })).status, 200);
    const head = buildRequest({ path: '/second', headers: [['X-Slow', 'a'.repeat(100)]] });
    let res = null;
    const reading = c.readResponse({ timeout: 8_000 }).then((r) => (res = r));
    const started = performance.now();
    for (let i = 0; i < head.length - 1 && res === null; i++) {
      await c.write(head.subarray(i, i + 1)).catch(() => {});
      await sleep(100);
    }
    await reading;
    assert.equal(res.status, 408);
    assert.ok(performance.now() - started >= 900, 'not before --header-timeout');
    assert.equal(await c.waitClosed(2_000), true);
  });

  await t.test('a prompt request on a fresh connection is served', async () => {
    assert.equal((await request(server.port, { path: '/' })).status, 200);
  });
});

test('--worker-connections: past the cap a new connection gets 503 and is closed; open ones are served', async (t) => {
  const server = await serverFor(t, ['hello_app:app', '--chdir', APPS, '--worker-connections', '3', '--keep-alive', '30', '--log-level', 'debug']);
  const open = [];
  for (let i = 0; i < 3; i++) {
    const c = await connect(t, server.port);
    await c.write(buildRequest({ path: `/open/${i}` }));
    assert.equal((await c.readResponse()).status, 200);
    open.push(c);
  }

  await t.test('the fourth connection: 503 at once, then closed', async (t) => {
    const c = await connect(t, server.port);
    const res = await c.readResponse({ timeout: 5_000 });
    assert.equal(res.status, 503);
    assert.match(res.get('connection') ?? '', /close/i);
    assert.equal(await c.waitClosed(3_000), true);
    await server.waitStderr(/DEBUG.*503 for .*3 connections open \(--worker-connections\)/, 2_000);
  });

  await t.test('a request sent on a refused connection is not served', async (t) => {
    const c = await connect(t, server.port);
    await c.write(buildRequest({ path: '/refused' })).catch(() => {});
    const res = await c.readResponse({ timeout: 5_000 }).catch((err) => err);
    if (!(res instanceof ConnectionClosedError)) {
      assert.ok(!(res instanceof Error), String(res));
      assert.equal(res.status, 503);
    }
    assert.equal(await c.waitClosed(3_000), true);
  });

  await t.test('the open connections keep being served', async () => {
    for (const [i, c] of open.entries()) {
      await c.write(buildRequest({ path: `/again/${i}` }));
      assert.equal((await c.readResponse()).status, 200);
    }
  });

  await t.test('once one closes, a new connection is accepted', async (t) => {
    open.pop().close();
    await sleep(200);
    const res = await request(server.port, { path: '/after' });
    assert.equal(res.status, 200);
    assert.equal(res.text(), 'hello');
  });
});
