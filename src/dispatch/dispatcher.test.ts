import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Dispatcher, type Runner } from './dispatcher';
import type { Exchange, ResponseSink } from '../exchange';
import { HttpError } from '../errors';

class FakeRunner implements Runner {
  readonly started: Exchange[] = [];
  inflight = 0;
  constructor(
    readonly capacity: number,
    public accepting = true,
  ) {}
  run(exchange: Exchange): void {
    this.inflight++;
    this.started.push(exchange);
  }
}

function exchange(failures: number[] = []): Exchange & { aborted: boolean } {
  const sink = { fail: (e: HttpError) => failures.push(e.status) } as unknown as ResponseSink;
  return { flags: 0, environ: [], body: null, sink, aborted: false, onAbort() {}, arrivedAt: 0, workerPid: 0 };
}

test('picks the least busy accepting runner with a free thread', () => {
  const d = new Dispatcher(10);
  const busy = new FakeRunner(4);
  busy.inflight = 2;
  const idle = new FakeRunner(4);
  idle.inflight = 1;
  const off = new FakeRunner(4, false);
  d.add(busy);
  d.add(off);
  d.add(idle);
  d.dispatch(exchange());
  assert.equal(idle.started.length, 1);
  assert.equal(busy.started.length + off.started.length, 0);
});

test('queues when every thread is busy, in FIFO order, then 503 past the bound', () => {
  const d = new Dispatcher(2);
  const r = new FakeRunner(1);
  d.add(r);
  const failures: number[] = [];
  const [a, b, c, e] = [exchange(failures), exchange(failures), exchange(failures), exchange(failures)];
  d.dispatch(a);
  d.dispatch(b);
  d.dispatch(c);
  d.dispatch(e);
  assert.deepEqual(failures, [503]);
  assert.equal(d.queued, 2);
  r.inflight = 0;
  d.pump();
  assert.deepEqual(r.started, [a, b]);
  r.inflight = 0;
  d.pump();
  assert.deepEqual(r.started, [a, b, c]);
  assert.equal(d.queued, 0);
});

test('skips queued exchanges whose client went away', () => {
  const d = new Dispatcher(5);
  const r = new FakeRunner(1);
  d.add(r);
  const first = exchange();
  const gone = exchange();
  const next = exchange();
  d.dispatch(first);
  d.dispatch(gone);
  d.dispatch(next);
  gone.aborted = true;
  r.inflight = 0;
  d.pump();
  assert.deepEqual(r.started, [first, next]);
});

test('drain answers everything still queued', () => {
  const d = new Dispatcher(5);
  const failures: number[] = [];
  d.dispatch(exchange(failures));
  d.dispatch(exchange(failures));
  d.drain({ status: 503 } as HttpError);
  assert.deepEqual(failures, [503, 503]);
  assert.equal(d.queued, 0);
});

test('refuse answers the queued exchanges and those to come, until a runner is added', () => {
  const d = new Dispatcher(10);
  const failures: number[] = [];
  d.dispatch(exchange(failures));
  assert.equal(d.queued, 1);
  d.refuse(new HttpError(503, 'ERR_NO_WORKERS', 'no worker'));
  assert.deepEqual(failures, [503]);
  d.dispatch(exchange(failures));
  assert.deepEqual(failures, [503, 503]);
  assert.equal(d.queued, 0);
  const runner = new FakeRunner(1);
  d.add(runner);
  d.dispatch(exchange(failures));
  assert.equal(runner.started.length, 1);
  assert.deepEqual(failures, [503, 503]);
});
