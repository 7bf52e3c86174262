// close() on the app's iterable: after a normal response and after the client hangs up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { APPS } from './lib/paths.mjs';
import { serverFor } from './lib/server.mjs';
import { RawClient } from './lib/raw-client.mjs';
import { buildRequest, request } from './lib/http.mjs';
import { sleep } from './lib/wait.mjs';

test('close() is called', async (t) => {
  const server = await serverFor(t, ['close_app:app', '--chdir', APPS, '--threads', '2']);

  await t.test('after a complete response', async () => {
    const res = await request(server.port, { path: '/list?id=normal-1' });
    assert.equal(res.status, 200);
    assert.equal(res.text(), 'closing body');
    await server.waitStderr(/CLOSE-CALLED normal-1\b/, 5_000);
  });

  await t.test('after the client disconnects mid-body (the app must not run on for 50 s)', async () => {
    const client = await RawClient.connect(server.port);
    await client.write(buildRequest({ path: '/slow?id=gone-1&n=1000&delay=0.05' }));
    let got = 0;
    const reading = client.readResponse({ sink: (b) => { got += b.length; }, timeout: 3_000 }).catch(() => null);
    const deadline = Date.now() + 5_000;
    while (got < 32 * 1024 && Date.now() < deadline) await sleep(20);
    assert.ok(got > 0, 'some body arrived before the hang-up');
    client.close();
    await reading;
    await server.waitStderr(/CLOSE-CALLED gone-1\b/, 10_000);
  });

  await t.test('after a HEAD response', async () => {
    const res = await request(server.port, { method: 'HEAD', path: '/list?id=head-1' });
    assert.equal(res.status, 200);
    await server.waitStderr(/CLOSE-CALLED head-1\b/, 5_000);
  });

  await t.test('the server still serves', async () => {
    const res = await request(server.port, { path: '/list?id=normal-2' });
    assert.equal(res.status, 200);
  });

  await t.test('validator saw every iterable closed', async () => {
    await sleep(200);
    assert.deepEqual(server.validationFailures(), []);
  });
});
