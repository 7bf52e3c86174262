import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { LineJoiner, relayLines } from './log-relay';

test('only whole lines are handed on, however the reads are cut', () => {
  const out: string[] = [];
  const joiner = new LineJoiner((t) => out.push(t));
  joiner.push('first li');
  assert.deepEqual(out, []);
  joiner.push('ne\nsecond');
  joiner.push(' line\nthird\nfour');
  assert.deepEqual(out, ['first line\n', 'second line\nthird\n']);
  joiner.end();
  assert.deepEqual(out, ['first line\n', 'second line\nthird\n', 'four\n']);
  joiner.end();
  assert.equal(out.length, 3);
});

test('a pipe cut in the middle of a multi-byte character still yields whole lines', async () => {
  const pipe = new PassThrough();
  const out: string[] = [];
  relayLines(pipe, (t) => out.push(t));
  const line = Buffer.from('caf\u00e9 \u2603\n');
  pipe.write(line.subarray(0, 4));
  pipe.write(line.subarray(4, 7));
  pipe.end(line.subarray(7));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(out, ['caf\u00e9 \u2603\n']);
});
