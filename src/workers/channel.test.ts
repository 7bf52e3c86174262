import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex, PassThrough, Readable } from 'node:stream';
import { HttpError } from '../errors';
import type { Exchange, Pairs, ResponseSink } from '../exchange';
import {
  ACK_UNIT,
  FrameReader,
  FrameType,
  MAX_PAYLOAD,
  ProtocolError,
  RequestFlags,
  WINDOW,
  decodeCount,
  decodeRequest,
  encodeCount,
  encodeFrame,
  encodeJson,
  encodePaths,
  encodeResponseHead,
  writeHeader,
  type Frame,
} from '../protocol/frames';
import { Channel, type AppError, type ChannelEvents, type WorkerInfo } from './channel';

/** One event-loop turn: the channel flushes its batch in an immediate. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** What the sink was told, in order. */
type SinkCall =
  | { call: 'head'; status: number; reason: string; headers: Pairs }
  | { call: 'body'; bytes: Buffer; ending: boolean | undefined }
  | { call: 'file' }
  | { call: 'end' }
  | { call: 'fail'; status: number }
  | { call: 'continue' };

class FakeSink implements ResponseSink {
  headersSent = false;
  readonly calls: SinkCall[] = [];
  /** The flow-control callbacks of body(), for the test to fire as a socket would. */
  readonly flushed: Array<(n: number) => void> = [];

  constructor(private readonly order?: string[], private readonly name = '') {}

  sendContinue(): void {
    this.calls.push({ call: 'continue' });
  }
  head(status: number, reason: string, headers: Pairs): void {
    this.headersSent = true;
    this.calls.push({ call: 'head', status, reason, headers });
  }
  body(chunk: Buffer, flushed: (n: number) => void, ending?: boolean): void {
    this.calls.push({ call: 'body', bytes: Buffer.from(chunk), ending });
    this.flushed.push(flushed);
  }
  file(): void {
    this.calls.push({ call: 'file' });
  }
  end(): void {
    this.calls.push({ call: 'end' });
  }
  fail(error: HttpError): void {
    this.calls.push({ call: 'fail', status: error.status });
    this.order?.push(this.name);
  }

  bodyBytes(): Buffer {
    return Buffer.concat(this.calls.flatMap((c) => (c.call === 'body' ? [c.bytes] : [])));
  }
  count(call: SinkCall['call']): number {
    return this.calls.filter((c) => c.call === call).length;
  }
}

class FakeExchange implements Exchange {
  aborted = false;
  workerPid = 0;
  readonly arrivedAt = 0;
  private abortListeners: Array<() => void> = [];

  constructor(
    readonly sink: FakeSink,
    readonly environ: Pairs = [['PATH_INFO', '/']],
    readonly flags = 0,
    readonly body: Readable | null = null,
  ) {}

  onAbort(listener: () => void): void {
    this.abortListeners.push(listener);
  }
  abort(): void {
    this.aborted = true;
    for (const l of this.abortListeners) l();
  }
}

/** A channel over in-memory pipes: what it writes is recorded write by write. */
function harness() {
  const writes: Buffer[] = [];
  let ended = false;
  const toWorker = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, done) {
      writes.push(chunk);
      done();
    },
    writev(chunks, done) {
      writes.push(Buffer.concat(chunks.map((c) => c.chunk as Buffer)));
      done();
    },
    final(done) {
      ended = true;
      done();
    },
  });
  const fromWorker = new PassThrough();
  const seen = {
    ready: [] as WorkerInfo[],
    bootErrors: [] as AppError[],
    modules: [] as string[][],
    appErrors: [] as AppError[],
    released: 0,
    protocolErrors: [] as Error[],
  };
  const events: ChannelEvents = {
    ready: (info) => seen.ready.push(info),
    bootError: (error) => seen.bootErrors.push(error),
    modules: (files) => seen.modules.push(files),
    appError: (error) => seen.appErrors.push(error),
    released: () => seen.released++,
    protocolError: (error) => seen.protocolErrors.push(error),
  };
  const channel = new Channel(toWorker, fromWorker, events);
  /** Every frame written to the worker so far, decoded. */
  const frames = (): Frame[] => new FrameReader().push(Buffer.concat(writes));
  /** Bytes from the worker, then a turn for them to be read. */
  const feed = async (...chunks: Buffer[]): Promise<void> => {
    for (const c of chunks) fromWorker.write(c);
    await turn();
  };
  return { channel, writes, frames, feed, seen, fromWorker, ended: () => ended };
}

/** The request ids the channel gave its REQUEST frames, in the order written. */
const requestIds = (frames: Frame[]): number[] => frames.filter((f) => f.type === FrameType.REQUEST).map((f) => f.id);

const head200 = (id: number): Buffer => encodeResponseHead(id, { status: 200, reason: 'OK', headers: [['Content-Type', 'text/plain']] });

test('requests started in one turn leave in one pipe write, each a REQUEST with its own id and environ', async () => {
  const h = harness();
  const a = new FakeExchange(new FakeSink(), [['PATH_INFO', '/a'], ['REQUEST_METHOD', 'GET']]);
  const b = new FakeExchange(new FakeSink(), [['PATH_INFO', '/b'], ['REQUEST_METHOD', 'HEAD']]);
  h.channel.start(a, 10);
  h.channel.start(b, 20);
  assert.equal(h.writes.length, 0, 'nothing is written before the turn ends');
  await turn();
  assert.equal(h.writes.length, 1, 'one write for the turn');
  const frames = h.frames();
  assert.deepEqual(frames.map((f) => f.type), [FrameType.REQUEST, FrameType.REQUEST]);
  const [idA, idB] = requestIds(frames) as [number, number];
  assert.ok(idA > 0 && idB > 0 && idA !== idB, `ids ${idA}, ${idB}`);
  assert.deepEqual(decodeRequest((frames[0] as Frame).payload).environ, a.environ);
  assert.deepEqual(decodeRequest((frames[1] as Frame).payload).environ, b.environ);
  assert.equal(h.channel.inflight, 2);
  assert.equal(h.channel.oldestStart(), 10);
});

test("the worker's own frames (id 0) reach the events: READY, MODULES, BOOT_ERROR", async () => {
  const h = harness();
  const info = { pid: 4242, python: '3.11.7', threads: 2, body_files: true };
  const boot = { type: 'ImportError', message: 'no module app', traceback: 'Traceback ...' };
  await h.feed(encodePaths(FrameType.MODULES, 0, ['/srv/app.py', '/srv/lib.py']), encodeJson(FrameType.READY, 0, info));
  await h.feed(encodeJson(FrameType.BOOT_ERROR, 0, boot));
  assert.deepEqual(h.seen.modules, [['/srv/app.py', '/srv/lib.py']]);
  assert.deepEqual(h.seen.ready, [info]);
  assert.deepEqual(h.seen.bootErrors, [boot]);
  assert.deepEqual(h.seen.protocolErrors, []);
});

test("a response's frames reach its own exchange's sink, and END frees the request", async () => {
  const h = harness();
  const one = new FakeExchange(new FakeSink());
  const two = new FakeExchange(new FakeSink());
  h.channel.start(one, 1);
  h.channel.start(two, 2);
  await turn();
  const [idOne, idTwo] = requestIds(h.frames()) as [number, number];
  // The second request's answer first, all in one read: its body is followed by its END.
  await h.feed(Buffer.concat([head200(idTwo), encodeFrame(FrameType.RESPONSE_BODY, idTwo, Buffer.from('two')), encodeFrame(FrameType.END, idTwo)]));
  assert.deepEqual(one.sink.calls, [], 'nothing for the other request');
  assert.deepEqual(two.sink.calls.map((c) => c.call), ['head', 'body', 'end']);
  assert.deepEqual(two.sink.calls[0], { call: 'head', status: 200, reason: 'OK', headers: [['Content-Type', 'text/plain']] });
  assert.deepEqual(two.sink.calls[1], { call: 'body', bytes: Buffer.from('two'), ending: true });
  assert.equal(h.seen.released, 1);
  assert.equal(h.channel.inflight, 1);
  assert.equal(h.channel.oldestStart(), 1);
  // Frames for a request that already ended are dropped, not misrouted nor an error.
  await h.feed(encodeFrame(FrameType.RESPONSE_BODY, idTwo, Buffer.from('late')));
  assert.equal(two.sink.count('body'), 1);
  assert.deepEqual(h.seen.protocolErrors, []);
  // The first request is still running and still routable.
  await h.feed(encodeFrame(FrameType.END, idOne));
  assert.deepEqual(one.sink.calls, [{ call: 'end' }]);
  assert.equal(h.channel.inflight, 0);
});

test('frames cut anywhere by the reads arrive whole, in order', async () => {
  const h = harness();
  const ex = new FakeExchange(new FakeSink());
  h.channel.start(ex, 0);
  await turn();
  const [id] = requestIds(h.frames()) as [number];
  const body = Buffer.alloc(3000, 'x');
  const wire = Buffer.concat([head200(id), encodeFrame(FrameType.RESPONSE_BODY, id, body), encodeFrame(FrameType.END, id)]);
  for (let at = 0; at < wire.length; at += 7) await h.feed(wire.subarray(at, at + 7));
  assert.equal(ex.sink.count('head'), 1);
  assert.deepEqual(ex.sink.bodyBytes(), body);
  assert.equal(ex.sink.calls.at(-1)?.call, 'end');
  assert.equal(h.seen.released, 1);
  assert.deepEqual(h.seen.protocolErrors, []);
});

test('request body: BODY frames up to the credit window, then more only as the worker grants BODY_CREDIT', async () => {
  const h = harness();
  const body = new PassThrough();
  const ex = new FakeExchange(new FakeSink(), [['REQUEST_METHOD', 'POST']], RequestFlags.HAS_BODY, body);
  const piece = 64 * 1024;
  const pieces = WINDOW / piece + 4;
  for (let i = 0; i < pieces; i++) body.write(Buffer.alloc(piece, i));
  h.channel.start(ex, 0);
  await turn();
  await turn();
  const sentBytes = (): number => h.frames().filter((f) => f.type === FrameType.BODY).reduce((n, f) => n + f.payload.length, 0);
  assert.equal(sentBytes(), WINDOW, 'exactly one window in flight');
  const [id] = requestIds(h.frames()) as [number];
  body.end();
  await turn();
  assert.equal(sentBytes(), WINDOW, 'no more without credit');
  assert.ok(!h.frames().some((f) => f.type === FrameType.BODY_END), 'no BODY_END while bytes wait');
  await h.feed(encodeCount(FrameType.BODY_CREDIT, id, ACK_UNIT));
  await turn();
  assert.equal(sentBytes(), pieces * piece, 'the rest after the credit');
  const types = h.frames().map((f) => f.type);
  assert.equal(types.at(-1), FrameType.BODY_END, 'BODY_END last');
  const sent = Buffer.concat(h.frames().filter((f) => f.type === FrameType.BODY).map((f) => f.payload));
  for (let i = 0; i < pieces; i++) assert.equal(sent[i * piece], i, `piece ${i} in order`);
});

test("response body: CREDIT goes back once the client's socket took ACK_UNIT bytes, not before", async () => {
  const h = harness();
  const ex = new FakeExchange(new FakeSink());
  h.channel.start(ex, 0);
  await turn();
  const [id] = requestIds(h.frames()) as [number];
  const half = ACK_UNIT / 2;
  await h.feed(head200(id), encodeFrame(FrameType.RESPONSE_BODY, id, Buffer.alloc(half)), encodeFrame(FrameType.RESPONSE_BODY, id, Buffer.alloc(half)));
  const credits = (): Frame[] => h.frames().filter((f) => f.type === FrameType.CREDIT);
  assert.ok(ex.sink.flushed.length >= 2, 'the sink got flow-control callbacks');
  // The bytes are queued, not yet taken by the socket: no credit.
  await turn();
  assert.equal(credits().length, 0);
  ex.sink.flushed[0]?.(half);
  await turn();
  assert.equal(credits().length, 0, 'half a unit earns nothing yet');
  ex.sink.flushed[1]?.(half);
  await turn();
  assert.equal(credits().length, 1);
  assert.equal(credits()[0]?.id, id);
  assert.equal(decodeCount((credits()[0] as Frame).payload), ACK_UNIT);
});

test('Expect: 100-continue: no body until the worker says CONTINUE, which the sink answers', async () => {
  const h = harness();
  const body = new PassThrough();
  const ex = new FakeExchange(new FakeSink(), [], RequestFlags.HAS_BODY | RequestFlags.EXPECT_CONTINUE, body);
  body.end(Buffer.from('payload'));
  h.channel.start(ex, 0);
  await turn();
  await turn();
  assert.deepEqual(h.frames().map((f) => f.type), [FrameType.REQUEST]);
  assert.equal(ex.sink.count('continue'), 0);
  const [id] = requestIds(h.frames()) as [number];
  await h.feed(encodeFrame(FrameType.CONTINUE, id));
  await turn();
  assert.equal(ex.sink.count('continue'), 1);
  const after = h.frames().slice(1);
  assert.deepEqual(after.map((f) => f.type), [FrameType.BODY, FrameType.BODY_END]);
  assert.equal(after[0]?.payload.toString(), 'payload');
});

test("ERROR ends the request: the app's error is reported and the sink fails with 500", async () => {
  const h = harness();
  const ex = new FakeExchange(new FakeSink());
  h.channel.start(ex, 0);
  await turn();
  const [id] = requestIds(h.frames()) as [number];
  const raised = { type: 'ValueError', message: 'boom', traceback: 'Traceback ...' };
  await h.feed(encodeJson(FrameType.ERROR, id, raised));
  assert.deepEqual(h.seen.appErrors, [raised]);
  assert.deepEqual(ex.sink.calls, [{ call: 'fail', status: 500 }]);
  assert.equal(h.seen.released, 1);
  assert.equal(h.channel.inflight, 0);
});

test('a client that leaves sends ABORT for its request', async () => {
  const h = harness();
  const stays = new FakeExchange(new FakeSink());
  const leaves = new FakeExchange(new FakeSink());
  h.channel.start(stays, 0);
  h.channel.start(leaves, 0);
  await turn();
  const [, idLeaves] = requestIds(h.frames()) as [number, number];
  leaves.abort();
  await turn();
  const aborts = h.frames().filter((f) => f.type === FrameType.ABORT);
  assert.deepEqual(aborts.map((f) => f.id), [idLeaves]);
});

test('protocol errors are reported: an oversized frame, an unknown type, a bad JSON payload', async () => {
  const oversized = Buffer.alloc(9);
  writeHeader(oversized, 0, FrameType.RESPONSE_BODY, 1, MAX_PAYLOAD + 1);
  for (const [what, wire, kind] of [
    ['oversized', oversized, ProtocolError],
    ['unknown type for the worker', encodeFrame(0x7f, 0), Error],
    ['READY that is not JSON', encodeFrame(FrameType.READY, 0, Buffer.from('{not json')), ProtocolError],
  ] as const) {
    const h = harness();
    await h.feed(wire);
    assert.equal(h.seen.protocolErrors.length, 1, what);
    assert.ok(h.seen.protocolErrors[0] instanceof kind, what);
    assert.deepEqual(h.seen.ready, [], what);
  }
  // An unknown type for a request in flight is an error too, not something to pass on.
  const h = harness();
  const ex = new FakeExchange(new FakeSink());
  h.channel.start(ex, 0);
  await turn();
  const [id] = requestIds(h.frames()) as [number];
  await h.feed(encodeFrame(0x7e, id));
  assert.equal(h.seen.protocolErrors.length, 1);
  assert.deepEqual(ex.sink.calls, []);
});

test('a pipe that closes mid-frame: the half frame reaches no sink, and failAll answers every request in dispatch order', async () => {
  const h = harness();
  const order: string[] = [];
  const first = new FakeExchange(new FakeSink(order, 'first'));
  const second = new FakeExchange(new FakeSink(order, 'second'));
  const third = new FakeExchange(new FakeSink(order, 'third'));
  const replayed: Exchange[] = [];
  h.channel.start(first, 1);
  h.channel.start(second, 2);
  h.channel.start(third, 3);
  await turn();
  const [id1, id2] = requestIds(h.frames()) as [number, number, number];
  const half = head200(id2);
  await h.feed(head200(id1), half.subarray(0, half.length - 3));
  h.fromWorker.end();
  await turn();
  assert.equal(first.sink.count('head'), 1);
  assert.deepEqual(second.sink.calls, [], 'a frame cut by the close is never delivered');
  // The worker's exit then ends what it held: here the third is taken back (a replay).
  h.channel.failAll(
    () => new HttpError(502, 'ERR_WORKER', 'the worker died'),
    (exchange, position) => {
      if (position !== 2) return false;
      replayed.push(exchange);
      return true;
    },
  );
  assert.deepEqual(order, ['first', 'second']);
  assert.deepEqual(first.sink.calls.at(-1), { call: 'fail', status: 502 });
  assert.deepEqual(second.sink.calls, [{ call: 'fail', status: 502 }]);
  assert.deepEqual(third.sink.calls, []);
  assert.deepEqual(replayed, [third]);
  assert.equal(h.channel.inflight, 0);
  assert.equal(h.channel.oldestStart(), Infinity);
});

test('close() sends what is queued, ends the pipe, and sends nothing after', async () => {
  const h = harness();
  h.channel.start(new FakeExchange(new FakeSink()), 0);
  h.channel.close();
  await turn();
  assert.deepEqual(h.frames().map((f) => f.type), [FrameType.REQUEST], 'the queued request left before the end');
  assert.equal(h.ended(), true);
  h.channel.start(new FakeExchange(new FakeSink()), 0);
  await turn();
  assert.equal(h.frames().length, 1);
});
