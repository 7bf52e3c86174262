import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RequestStats, STATUS_CLASSES } from '../ops/request-stats';
import { nodeProcessFigures } from '../ops/process-stats';
import { FrontendsView } from './metrics-view';
import { FrontendTotals, reportOf, type FrontendAnswer, type FrontendReport } from './stats';

const GET_2XX = 0 * STATUS_CLASSES.length + 1;

/** A front end's full report after `n` GETs answered 200, with `inflight` more running. */
function report(pid: number, n: number, inflight = 0, ready = true): FrontendReport {
  const stats = new RequestStats();
  for (let i = 0; i < n + inflight; i++) stats.started();
  for (let i = 0; i < n; i++) stats.ended('GET', 200, 0.001, 0, 5);
  const view = { ready: () => ready, queued: () => 1, rejected: () => 2, workers: () => [{ pid: pid * 10, state: 'ready' }], restarts: () => ({ crash: 1, timeout: 0 }) };
  return { ...reportOf(view, stats, true), pid };
}

test('the sum of the front ends: counters kept through a silence and a replacement, gauges from those that answered', () => {
  const totals = new FrontendTotals(2);
  const master = nodeProcessFigures();
  const at = (answers: FrontendAnswer[]) => totals.reading(answers, master, true);

  let r = at([
    { index: 1, report: report(100, 3, 1) },
    { index: 2, report: report(200, 4) },
  ]);
  assert.equal(r.requests.requests[GET_2XX], 7);
  assert.equal(r.requests.durationCount, 7);
  assert.equal(r.requests.bytesOut, 35);
  assert.deepEqual([r.requests.inflight, r.queued, r.rejected, r.workers.length, r.restarts.crash], [1, 2, 4, 2, 2]);
  assert.deepEqual(r.frontends, { answered: 2, silent: 0 });
  assert.deepEqual(r.processes.map((p) => p.labels.process), ['master', 'frontend-1', 'frontend-2']);
  assert.equal(r.ready, true);

  // Front end 1 silent: its counts stay, its gauges and process go, and the server is not ready.
  r = at([{ index: 1, report: null }, { index: 2, report: report(200, 5) }]);
  assert.equal(r.requests.requests[GET_2XX], 8);
  assert.deepEqual([r.requests.inflight, r.queued, r.workers.length], [0, 1, 1]);
  assert.deepEqual(r.frontends, { answered: 1, silent: 1 });
  assert.equal(r.processes.length, 2);
  assert.equal(r.ready, false);

  // Front end 1 replaced (a new pid starts from 0): the old one's 3 stay counted.
  r = at([{ index: 1, report: report(101, 1) }, { index: 2, report: report(200, 5) }]);
  assert.equal(r.requests.requests[GET_2XX], 3 + 1 + 5);
  assert.equal(r.restarts.crash, 3, 'the old front end\u2019s restarts with the two live ones\u2019');
  assert.equal(r.ready, true);
  assert.equal(totals.reading([{ index: 1, report: report(101, 1) }, { index: 2, report: report(200, 5) }], master, false).ready, false, 'not ready once the master stops');
});

test('readiness needs every front end ready; StatsD\u2019s pool is the sum, or nothing while one is silent', async () => {
  let answers: FrontendAnswer[] = [];
  const asked: boolean[] = [];
  const view = new FrontendsView({ count: 2, ask: async (full) => (asked.push(full), answers) }, () => true);
  answers = [{ index: 1, report: report(100, 0) }, { index: 2, report: report(200, 0, 0, false) }];
  assert.equal(await view.ready(), false);
  answers = [{ index: 1, report: report(100, 0) }];
  assert.equal(await view.ready(), false, 'one of two is not every front end');
  assert.deepEqual(await view.pool(), { workers: 1, backlog: 1 }, 'a front end being replaced has no workers to count');
  answers = [{ index: 1, report: report(100, 0) }, { index: 2, report: report(200, 0) }];
  assert.equal(await view.ready(), true);
  assert.deepEqual(await view.pool(), { workers: 2, backlog: 2 });
  answers = [{ index: 1, report: report(100, 0) }, { index: 2, report: null }];
  assert.equal(await view.pool(), null);
  assert.deepEqual(asked.slice(0, 3), [false, false, false], 'readiness and the pool ask for the light report');
  await view.read();
  assert.equal(asked.at(-1), true, 'a scrape asks for the full one');
});
