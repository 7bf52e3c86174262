import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../errors';
import { Statsd, normalizePrefix, parseStatsdAddress, watchPool } from './statsd';
import type { AccessEntry } from './access';

async function receiver(): Promise<{ socket: Socket; port: number; datagrams: string[] }> {
  const socket = createSocket('udp4');
  const datagrams: string[] = [];
  socket.on('message', (msg) => datagrams.push(msg.toString('utf8')));
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  return { socket, port: (socket.address() as AddressInfo).port, datagrams };
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(check(), 'timed out');
}

const entry = (status: number, durationMicros: number): AccessEntry =>
  ({ status, durationMicros }) as unknown as AccessEntry;

test('--statsd-host forms, as gunicorn reads them', () => {
  assert.deepEqual(parseStatsdAddress('localhost:9125'), { host: 'localhost', port: 9125 });
  assert.deepEqual(parseStatsdAddress('Metrics.Example'), { host: 'metrics.example', port: 8125 });
  assert.deepEqual(parseStatsdAddress('[::1]:9000'), { host: '::1', port: 9000 });
  assert.deepEqual(parseStatsdAddress('[::1]'), { host: '::1', port: 8125 });
  assert.deepEqual(parseStatsdAddress('unix:8125'), { host: 'unix', port: 8125 });
  assert.throws(() => parseStatsdAddress('unix:///run/statsd.sock'), (e: Error) => e instanceof ConfigError && /--statsd-host: unix sockets are not supported/.test(e.message));
  assert.throws(() => parseStatsdAddress('unix:/run/statsd.sock'), ConfigError);
  assert.throws(() => parseStatsdAddress('host:notaport'), /--statsd-host/);
  assert.throws(() => parseStatsdAddress('host:70000'), /--statsd-host/);
  assert.throws(() => parseStatsdAddress(':8125'), /--statsd-host/);
});

test('the prefix ends in exactly one dot', () => {
  assert.equal(normalizePrefix(''), '');
  assert.equal(normalizePrefix('app'), 'app.');
  assert.equal(normalizePrefix('app...'), 'app.');
  assert.equal(normalizePrefix('my.app.'), 'my.app.');
});

test('one datagram per turn: counters summed, timers each, prefix and tags on every line', async (t) => {
  const r = await receiver();
  t.after(() => r.socket.close());
  const statsd = await Statsd.open({ address: { host: '127.0.0.1', port: r.port }, prefix: 'web', tags: 'env:test,team:a' });
  t.after(() => statsd.close());
  statsd.log(entry(200, 12_500));
  statsd.log(entry(404, 3_000));
  statsd.log(entry(200, 1_000));
  statsd.increment('gunicorn.log.error');
  await until(() => r.datagrams.length >= 1);
  await new Promise((res) => setTimeout(res, 50));
  assert.equal(r.datagrams.length, 1);
  const lines = (r.datagrams[0] as string).split('\n').sort();
  assert.deepEqual(lines, [
    'web.gunicorn.log.error:1|c|@1.0|#env:test,team:a',
    'web.gunicorn.request.duration:1.0|ms|#env:test,team:a',
    'web.gunicorn.request.duration:12.5|ms|#env:test,team:a',
    'web.gunicorn.request.duration:3.0|ms|#env:test,team:a',
    'web.gunicorn.request.status.200:2|c|@1.0|#env:test,team:a',
    'web.gunicorn.request.status.404:1|c|@1.0|#env:test,team:a',
    'web.gunicorn.requests:3|c|@1.0|#env:test,team:a',
  ]);
});

test('a batch past one datagram is split at line boundaries, none over 1432 bytes', async (t) => {
  const r = await receiver();
  t.after(() => r.socket.close());
  const statsd = await Statsd.open({ address: { host: '127.0.0.1', port: r.port }, prefix: '', tags: '' });
  t.after(() => statsd.close());
  for (let i = 0; i < 500; i++) statsd.timer('gunicorn.request.duration', i);
  await until(() => r.datagrams.join('\n').split('\n').length >= 500);
  assert.ok(r.datagrams.length > 1);
  for (const d of r.datagrams) assert.ok(Buffer.byteLength(d) <= 1432, `${Buffer.byteLength(d)} bytes`);
  const values = r.datagrams.join('\n').split('\n').map((l) => Number(/:(\d+)\.0\|ms$/.exec(l)?.[1]));
  assert.deepEqual(values, Array.from({ length: 500 }, (_, i) => i));
});

test('nobody listening: sends do not throw and the server goes on', async () => {
  const r = await receiver();
  const port = r.port;
  r.socket.close();
  const statsd = await Statsd.open({ address: { host: '127.0.0.1', port }, prefix: '', tags: '' });
  for (let round = 0; round < 5; round++) {
    statsd.increment('gunicorn.requests');
    await new Promise((res) => setImmediate(res));
  }
  statsd.close();
});

test('the pool watch sends the worker gauge on change and the backlog each time', async (t) => {
  const r = await receiver();
  t.after(() => r.socket.close());
  const statsd = await Statsd.open({ address: { host: '127.0.0.1', port: r.port }, prefix: '', tags: '' });
  t.after(() => statsd.close());
  let workers = 2;
  let queued = 0;
  const stop = watchPool(statsd, () => ({ workers, backlog: queued++ }), true, 20);
  await until(() => r.datagrams.join('\n').includes('gunicorn.backlog:3|h'));
  workers = 3;
  await until(() => r.datagrams.join('\n').includes('gunicorn.workers:3|g'));
  stop();
  const all = r.datagrams.join('\n').split('\n');
  assert.equal(all.filter((l) => l === 'gunicorn.workers:2|g').length, 1);
  assert.equal(all.filter((l) => l === 'gunicorn.workers:3|g').length, 1);
});

test('the pool watch waits for a reader that answers later, and sends nothing for a null', async (t) => {
  const r = await receiver();
  t.after(() => r.socket.close());
  const statsd = await Statsd.open({ address: { host: '127.0.0.1', port: r.port }, prefix: '', tags: '' });
  t.after(() => statsd.close());
  let reads = 0;
  const stop = watchPool(statsd, async () => (++reads <= 2 ? null : { workers: 4, backlog: 1 }), false, 20);
  await until(() => r.datagrams.join('\n').includes('gunicorn.workers:4|g'));
  stop();
  assert.ok(reads >= 3);
  assert.ok(!r.datagrams.join('\n').includes('gunicorn.backlog'), 'no backlog histogram unless asked');
});
