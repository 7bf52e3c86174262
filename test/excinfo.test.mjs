// start_response(status, headers, exc_info): replace the head before it is sent, re-raise after.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { APPS } from './lib/paths.mjs';
import { serverFor } from './lib/server.mjs';
import { request } from './lib/http.mjs';

test('exc_info', async (t) => {
  const server = await serverFor(t, ['excinfo_app:app', '--chdir', APPS]);

  await t.test('before any body byte: the second start_response replaces the head', async () => {
    const res = await request(server.port, { path: '/before' });
    assert.equal(res.status, 500);
    assert.equal(res.text(), 'recovered: failed before the body');
    assert.equal(res.get('x-first'), undefined, 'the first head was discarded');
    assert.ok(res.get('x-worker-pid'));
  });

  await t.test('after the head went out: start_response re-raises, the connection is aborted', async () => {
    const res = await request(server.port, { path: '/after' }, { timeout: 10_000 });
    assert.equal(res.status, 200);
    assert.equal(res.complete, false, 'the truncated body must not look complete');
    assert.ok(res.text().startsWith('first part\n'), JSON.stringify(res.text()));
    assert.ok(!res.text().includes('SHOULD NOT BE SENT'));
  });

  await t.test('the server keeps serving', async () => {
    const res = await request(server.port, { path: '/' });
    assert.equal(res.status, 200);
    assert.equal(res.text(), 'ok');
  });

  await t.test('no validation failures were logged', () => {
    assert.deepEqual(server.validationFailures(), []);
  });
});
