import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Pairs } from '../../exchange';
import { MAX_REQUEST_ID, RequestIds, saneRequestId } from './request-id';

test('a sane id is kept; a missing or hostile one is replaced by a new one', () => {
  const ids = new RequestIds('X-Request-ID');
  assert.equal(ids.environKey, 'HTTP_X_REQUEST_ID');
  const kept: Pairs = [['PATH_INFO', '/'], ['HTTP_X_REQUEST_ID', 'f47ac10b-58cc-4372-a567-0e02b2c3d479']];
  assert.equal(ids.assign(kept), 'f47ac10b-58cc-4372-a567-0e02b2c3d479');
  assert.deepEqual(kept[1], ['HTTP_X_REQUEST_ID', 'f47ac10b-58cc-4372-a567-0e02b2c3d479']);

  const none: Pairs = [['PATH_INFO', '/']];
  const made = ids.assign(none);
  assert.deepEqual(none[1], ['HTTP_X_REQUEST_ID', made]);
  assert.ok(saneRequestId(made), made);

  for (const bad of ['a"b', 'a\\b', 'one,two', 'sp ace', 'tab\t', '\u00e9', 'x'.repeat(MAX_REQUEST_ID + 1), '']) {
    const environ: Pairs = [['HTTP_X_REQUEST_ID', bad]];
    const id = ids.assign(environ);
    assert.notEqual(id, bad);
    assert.ok(saneRequestId(id));
    assert.deepEqual(environ, [['HTTP_X_REQUEST_ID', id]]);
  }
  assert.ok(saneRequestId('x'.repeat(MAX_REQUEST_ID)));
});

test('new ids are distinct, and differ between processes by their prefix', () => {
  const a = new RequestIds('X-Request-ID');
  const b = new RequestIds('X-Request-ID');
  const seen = new Set<string>();
  for (let i = 0; i < 1000; i++) seen.add(a.next());
  assert.equal(seen.size, 1000);
  assert.notEqual(a.next().slice(0, 12), b.next().slice(0, 12));
});

test('another header name maps to its own environ key', () => {
  assert.equal(new RequestIds('X-Correlation-Id').environKey, 'HTTP_X_CORRELATION_ID');
});
