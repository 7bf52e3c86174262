import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_DEPTH, PrefetchDepth } from './prefetch';

/** Feeds `count` answers `gapMs` apart to a worker that stays busy throughout. */
function answers(p: PrefetchDepth, count: number, gapMs: number, from: number): number {
  let now = from;
  for (let i = 0; i < count; i++) {
    now += gapMs;
    p.finished(now);
  }
  return now;
}

test('until answers have been timed, the depth is --prefetch', () => {
  assert.equal(new PrefetchDepth(4, 5, 1).depth, 4);
  assert.equal(new PrefetchDepth(0, 5, 1).depth, 0);
});

test('a worker that answers every 50 µs may hold up to MAX_DEPTH per thread', () => {
  const p = new PrefetchDepth(4, 5, 1);
  p.started(0, true);
  answers(p, 100, 0.05, 0);
  assert.equal(p.depth, MAX_DEPTH);
});

test('the depth is what fits in --prefetch-time: 5 ms at 0.5 ms an answer is 10, and 5 with two threads', () => {
  const one = new PrefetchDepth(1, 5, 1);
  one.started(0, true);
  answers(one, 100, 0.5, 0);
  assert.equal(one.depth, 10);
  const two = new PrefetchDepth(1, 5, 2);
  two.started(0, true);
  answers(two, 100, 0.5, 0);
  assert.equal(two.depth, 5);
});

test('a view that takes 2 ms keeps the worker at --prefetch', () => {
  const p = new PrefetchDepth(4, 5, 1);
  p.started(0, true);
  answers(p, 100, 2, 0);
  assert.equal(p.depth, 4);
});

test('one slow answer drops a deep worker back to --prefetch at once, and speed must be shown again', () => {
  const p = new PrefetchDepth(2, 5, 1);
  p.started(0, true);
  let now = answers(p, 100, 0.05, 0);
  assert.equal(p.depth, MAX_DEPTH);
  now = answers(p, 1, 1000, now);
  assert.equal(p.depth, 2, 'right after a 1 s answer');
  // The 32 requests that were waiting behind it end at once: still not fast enough to go deep.
  now = answers(p, 32, 0, now);
  assert.equal(p.depth, 2, 'after the batch that waited behind it');
  answers(p, 200, 0.05, now);
  assert.equal(p.depth, MAX_DEPTH, 'after 200 fast answers');
});

test('idle time between requests is not counted as the worker being slow', () => {
  const p = new PrefetchDepth(1, 5, 1);
  let now = 0;
  for (let i = 0; i < 50; i++) {
    now += 100; // 100 ms idle, then a request that takes 0.1 ms
    p.started(now, true);
    now += 0.1;
    p.finished(now);
  }
  // Each answer took 0.1 ms of busy time: 50 would fit in 5 ms, so the cap applies.
  assert.equal(p.depth, MAX_DEPTH);
});

test('--prefetch 0 and --prefetch-time 0 turn the deepening off', () => {
  for (const [floor, budget] of [[0, 5], [3, 0]] as const) {
    const p = new PrefetchDepth(floor, budget, 1);
    p.started(0, true);
    answers(p, 100, 0.01, 0);
    assert.equal(p.depth, floor);
  }
});
