// The write() callable returned by start_response.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { APPS } from './lib/paths.mjs';
import { serverFor } from './lib/server.mjs';
import { request } from './lib/http.mjs';

test('write() callable', async (t) => {
  const server = await serverFor(t, ['write_app:app', '--chdir', APPS]);

  for (const [query, body] of [
    ['mode=only', 'one,two,three,'],
    ['mode=only&cl=1', 'one,two,three,'],
    ['mode=mixed', 'one,two,three,four,'],
    ['mode=mixed&cl=1', 'one,two,three,four,'],
  ]) {
    await t.test(`${query}: every piece arrives in order`, async () => {
      const res = await request(server.port, { path: `/?${query}` });
      assert.equal(res.status, 200);
      assert.equal(res.complete, true);
      assert.equal(res.text(), body);
      if (query.includes('cl=1')) {
        assert.equal(res.framing, 'length');
        assert.equal(res.get('content-length'), String(body.length));
      }
    });
    await t.test(`${query} over HTTP/1.0`, async () => {
      const res = await request(server.port, { path: `/?${query}`, version: '1.0' });
      assert.equal(res.status, 200);
      assert.equal(res.text(), body);
    });
  }

  await t.test('no validation failures were logged', () => {
    assert.deepEqual(server.validationFailures(), []);
  });
});
