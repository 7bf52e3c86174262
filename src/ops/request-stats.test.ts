import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Exposition, wantsOpenMetrics } from './exposition';
import { DURATION_BUCKETS, RequestStats, STATUS_CLASSES } from './request-stats';

test('a request lands in its method, its status class and its duration bucket', () => {
  const stats = new RequestStats();
  stats.started();
  stats.started();
  assert.equal(stats.inflight, 2);
  stats.ended('POST', 201, 0.03, 10, 5);
  stats.ended('BREW', 599, 100, 0, 1);
  assert.equal(stats.inflight, 0);
  assert.equal(stats.requests[2 * STATUS_CLASSES.length + 1], 1, 'POST 2xx');
  assert.equal(stats.requests[7 * STATUS_CLASSES.length + 4], 1, 'other 5xx');
  assert.equal(stats.durationBuckets[DURATION_BUCKETS.indexOf(0.05)], 1, '0.03 s is under 0.05');
  assert.equal(stats.durationBuckets[DURATION_BUCKETS.length], 1, '100 s is past the last bound');
  assert.deepEqual([stats.durationCount, stats.bytesIn, stats.bytesOut], [2, 10, 6]);
});

test('counters are named for each format; histogram buckets are cumulative; OpenMetrics ends with # EOF', () => {
  const text = (open: boolean): string => {
    const out = new Exposition(open);
    out.counter('x', 'help "me"\\', [[{ a: 'q"\n' }, 3]]);
    out.histogram('h', 'h', [1, 2], [1, 0, 2], 9.5, 3);
    return out.text();
  };
  const prom = text(false);
  assert.match(prom, /# TYPE x_total counter\nx_total\{a="q\\"\\n"\} 3\n/);
  assert.match(prom, /h_bucket\{le="1"\} 1\nh_bucket\{le="2"\} 1\nh_bucket\{le="\+Inf"\} 3\nh_sum 9.5\nh_count 3\n$/);
  const open = text(true);
  assert.match(open, /# TYPE x counter\nx_total/);
  assert.match(open, /# EOF\n$/);
  assert.equal(wantsOpenMetrics('application/openmetrics-text; version=1.0.0'), true);
  assert.equal(wantsOpenMetrics('text/plain'), false);
  assert.equal(wantsOpenMetrics(undefined), false);
});
