// App exceptions: before the head -> 500 + traceback in the error log; after the head -> the
// connection is aborted. The worker survives and the server keeps serving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { APPS } from './lib/paths.mjs';
import { serverFor } from './lib/server.mjs';
import { RawClient } from './lib/raw-client.mjs';
import { buildRequest, request } from './lib/http.mjs';

test('app exceptions', async (t) => {
  const server = await serverFor(t, ['crash_app:app', '--chdir', APPS, '-w', '1']);
  const ok = async () => {
    const res = await request(server.port, { path: '/' });
    assert.equal(res.status, 200);
    assert.equal(res.text(), 'ok');
    return res.get('x-worker-pid');
  };
  const pid = await ok();

  await t.test('raise before start_response -> 500, traceback logged', async () => {
    const res = await request(server.port, { path: '/before' });
    assert.equal(res.status, 500);
    assert.equal(res.complete, true);
    assert.ok(!res.text().includes('boom'), 'no traceback details leak to the client');
    await server.waitStderr(/Traceback \(most recent call last\)/, 5_000);
    await server.waitStderr(/CrashTestError: boom before headers/, 5_000);
    assert.equal(await ok(), pid, 'the same worker keeps serving (an app exception does not kill it)');
  });

  await t.test('raise after start_response but before a body byte -> 500', async () => {
    const res = await request(server.port, { path: '/after-start' });
    assert.equal(res.status, 500);
    await server.waitStderr(/CrashTestError: boom after start_response/, 5_000);
    await ok();
  });

  await t.test('raise after the first body chunk -> connection aborted, body incomplete', async () => {
    const client = await RawClient.connect(server.port);
    try {
      await client.write(buildRequest({ path: '/after-body' }));
      const res = await client.readResponse({ timeout: 10_000 });
      assert.equal(res.status, 200);
      assert.equal(res.complete, false, `framing ${res.framing}: a truncated body must not look complete`);
      assert.ok(res.text().startsWith('partial body\n'));
      assert.equal(await client.waitClosed(2_000), true);
    } finally {
      client.close();
    }
    await server.waitStderr(/CrashTestError: boom after the first body chunk/, 5_000);
    assert.equal(await ok(), pid);
  });

  await t.test('HEAD, raise after the first body chunk -> connection closed, the worker kept', async () => {
    // For HEAD the worker sends the head alone, then the error: the head is the server's to
    // send (or not), and the answer can only be an abort, never a second head.
    const client = await RawClient.connect(server.port);
    try {
      await client.write(buildRequest({ method: 'HEAD', path: '/after-body' }));
      assert.equal(await client.waitClosed(5_000), true, 'the connection is closed');
    } finally {
      client.close();
    }
    await server.waitStderr(/CrashTestError: boom after the first body chunk/, 5_000);
    assert.equal(await ok(), pid, 'the same worker still serves');
    assert.doesNotMatch(server.stderrText(), /protocol error/);
  });

  await t.test('raise right after the first yield: a 500 or an aborted 200, never an empty reply', async () => {
    const client = await RawClient.connect(server.port);
    try {
      await client.write(buildRequest({ path: '/after-body-now' }));
      let res;
      try {
        res = await client.readResponse({ timeout: 10_000 });
      } catch (err) {
        assert.fail(`no response at all: ${err.message}`);
      }
      if (res.status === 500) return;
      assert.equal(res.status, 200);
      assert.equal(res.complete, false, 'a truncated body must not look complete');
    } finally {
      client.close();
    }
    await ok();
  });

  await t.test('a 500 on a keep-alive connection does not break the next request', async () => {
    const client = await RawClient.connect(server.port);
    try {
      await client.write(buildRequest({ path: '/before' }));
      const res = await client.readResponse();
      assert.equal(res.status, 500);
      if (await client.waitClosed(300)) return; // closing after a 500 is allowed
      await client.write(buildRequest({ path: '/' }));
      assert.equal((await client.readResponse()).status, 200);
    } finally {
      client.close();
    }
  });
});
