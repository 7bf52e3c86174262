import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Logger } from '../log/logger';
import { workerRss } from '../ops/process-stats';
import { Recycling, type RecyclingOptions, type RestartReason } from './recycling';
import type { Worker } from './worker';

const quiet = { warning: () => {} } as unknown as Logger;

/** A pool of stand-ins (pid, state, bornAt: all check() reads) and the recycles it asked for. */
function pool(options: RecyclingOptions, workers: Array<Partial<Worker>>): { check: (now: number) => void; recycled: Array<[number, RestartReason, string]> } {
  const recycled: Array<[number, RestartReason, string]> = [];
  const r = new Recycling(() => options, () => workers as Worker[], (w, why, reason) => recycled.push([w.pid, reason, why]), quiet);
  return { check: (now) => r.check(now), recycled };
}

test('lifetime: a ready worker past its lifetime is recycled, a younger one or one retiring is not', () => {
  const { check, recycled } = pool({ maxRssMiB: 0, lifetimeS: 10, lifetimeJitterS: 0 }, [
    { pid: 1, state: 'ready', bornAt: 0 },
    { pid: 2, state: 'ready', bornAt: 5_000 },
    { pid: 3, state: 'retiring', bornAt: 0 },
    { pid: 4, state: 'booting', bornAt: 0 },
  ]);
  check(9_000);
  assert.equal(recycled.length, 0);
  check(10_500);
  assert.deepEqual(recycled.map(([pid, reason]) => [pid, reason]), [[1, 'lifetime']]);
  assert.match(recycled[0]![2], /^10\.5 s \(--workers-lifetime 10 s\)$/);
});

test('lifetime jitter: each worker gets 0..J extra seconds, drawn once', () => {
  const workers = Array.from({ length: 50 }, (_, i) => ({ pid: i, state: 'ready' as const, bornAt: 0 }));
  const { check, recycled } = pool({ maxRssMiB: 0, lifetimeS: 10, lifetimeJitterS: 5 }, workers);
  check(9_999);
  assert.equal(recycled.length, 0, 'none before the lifetime');
  check(12_500);
  const early = recycled.length;
  assert.ok(early > 0 && early < 50, `${early} of 50 past 10 + jitter at 12.5 s: the jitter spreads them`);
  recycled.length = 0;
  check(12_500);
  assert.equal(recycled.length, early, 'the same ones again: the jitter is not drawn anew');
  recycled.length = 0;
  check(15_001);
  assert.equal(recycled.length, 50, 'all past 10 + 5');
});

test('rss: a worker over the limit is recycled with its RSS named; under it, not', () => {
  const own = workerRss(process.pid);
  if (own === null) {
    assert.equal(process.platform === 'linux', false, 'Linux has /proc');
    return;
  }
  const mib = own / 1024 / 1024;
  const over = pool({ maxRssMiB: Math.max(1, Math.floor(mib / 2)), lifetimeS: 0, lifetimeJitterS: 0 }, [{ pid: process.pid, state: 'ready', bornAt: 0 }]);
  over.check(0);
  assert.equal(over.recycled.length, 1);
  assert.equal(over.recycled[0]![1], 'rss');
  assert.match(over.recycled[0]![2], /^its rss reached \d+\.\d MiB \(--workers-max-rss \d+\)$/);
  const under = pool({ maxRssMiB: Math.ceil(mib * 4), lifetimeS: 0, lifetimeJitterS: 0 }, [{ pid: process.pid, state: 'ready', bornAt: 0 }]);
  under.check(0);
  assert.equal(under.recycled.length, 0);
});

test('a gone process has no RSS', () => {
  assert.equal(workerRss(2 ** 22 + 12345), null);
});
