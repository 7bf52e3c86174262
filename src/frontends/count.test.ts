import { test } from 'node:test';
import assert from 'node:assert/strict';
import { frontendCount, shares } from './count';

test('auto: one front end per four cores the workers can use, at least one', () => {
  assert.equal(frontendCount('auto', 4, 2), 1);
  assert.equal(frontendCount('auto', 1, 64), 1);
  assert.equal(frontendCount('auto', 8, 8), 2);
  assert.equal(frontendCount('auto', 9, 8), 2);
  assert.equal(frontendCount('auto', 32, 16), 4);
  assert.equal(frontendCount('auto', 5, 16), 2);
  assert.equal(frontendCount('auto', 128, 64), 16);
});

test('a given count is kept, but never above the workers', () => {
  assert.equal(frontendCount(3, 8, 2), 3);
  assert.equal(frontendCount(4, 2, 64), 2);
  assert.equal(frontendCount(1, 100, 64), 1);
});

test('workers are split as evenly as they go', () => {
  assert.deepEqual(shares(4, 2), [2, 2]);
  assert.deepEqual(shares(5, 2), [3, 2]);
  assert.deepEqual(shares(7, 3), [3, 2, 2]);
  assert.deepEqual(shares(3, 3), [1, 1, 1]);
});
