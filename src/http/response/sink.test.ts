import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { HttpResponseSink } from './sink';
import { SendWatch } from './send-watch';
import { wireFor } from './wire';
import type { Logger } from '../../log/logger';

const quiet: Logger = {
  debug() {},
  info() {},
  warning() {},
  error() {},
  critical() {},
  isEnabled: () => false,
  flush: async () => {},
  close: async () => {},
  reopen: () => null,
  passLines: () => {},
};

/**
 * Over node:http's 16 KiB high-water mark, so write() answers false for each piece, yet small
 * enough that loopback takes a whole batch at once even on a loaded machine.
 */
const PIECE = 20 * 1024;

/**
 * Serves one response through an HttpResponseSink, the body handed on in `batches` (each batch's
 * pieces in one tick, as the channel hands on one gathered frame), and counts the writes the
 * socket makes (stream-level _write/_writev calls, each one system call when the kernel keeps up).
 */
async function serve(batches: number[]): Promise<{ writes: number; body: Buffer; expected: Buffer }> {
  const total = batches.reduce((a, b) => a + b, 0) * PIECE;
  const expected = Buffer.alloc(total);
  for (let i = 0; i < total; i += 4093) expected[i] = i % 253;
  let writes = 0;
  const server = createServer((_req, res: ServerResponse) => {
    const socket = res.socket as NonNullable<ServerResponse['socket']> & { _write: Function; _writev: Function };
    const write = socket._write.bind(socket);
    const writev = socket._writev.bind(socket);
    socket._write = (...args: unknown[]) => (writes++, write(...args));
    socket._writev = (...args: unknown[]) => (writes++, writev(...args));
    const sink = new HttpResponseSink(wireFor(res), false, quiet, { memory: 256 * 1024, dir: tmpdir(), maxFile: 1 << 30 }, new SendWatch(0, quiet));
    sink.head(200, 'OK', [['Content-Length', String(total)]]);
    let at = 0;
    const next = (b: number): void => {
      if (b === batches.length) {
        sink.end();
        return;
      }
      for (let i = 0; i < (batches[b] as number); i++, at += PIECE) sink.body(expected.subarray(at, at + PIECE), () => {});
      // The next batch comes in a later turn of the event loop, as the next pipe reads do.
      setTimeout(() => next(b + 1), 20);
    };
    next(0);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const req = request({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', path: '/' });
    req.end();
    const [res] = (await once(req, 'response')) as [NodeJS.ReadableStream];
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    return { writes, body: Buffer.concat(chunks), expected };
  } finally {
    server.close();
    server.closeAllConnections();
  }
}

test('the pieces of a body handed on in one tick leave in one socket write, the head with the first', async () => {
  // Three batches of three pieces: three writes. Taking write()'s false (any piece over 16 KiB)
  // as "the client is behind" sent every piece after the first on its own.
  const { writes, body, expected } = await serve([3, 3, 3]);
  assert.ok(body.equals(expected), 'the body arrives intact, in order');
  assert.equal(writes, 3);
});

test('a single small piece per tick is one write each, as before', async () => {
  const { writes, body, expected } = await serve([1, 1]);
  assert.ok(body.equals(expected));
  assert.equal(writes, 2);
});

/**
 * Serves one response whose whole body is `body`, handed on as the last piece (its END came in
 * the same read), and reads the raw bytes with a plain socket. Counts the non-empty pieces handed
 * to the socket (node:http's end() adds an empty one of its own).
 */
async function serveLast(declared: number, body: Buffer): Promise<{ pieces: number; raw: string }> {
  let pieces = 0;
  const server = createServer((_req, res: ServerResponse) => {
    type Chunk = { chunk: { length: number } };
    const socket = res.socket as NonNullable<ServerResponse['socket']> & { _write: Function; _writev: Function };
    const write = socket._write.bind(socket);
    const writev = socket._writev.bind(socket);
    socket._write = (chunk: { length: number }, ...rest: unknown[]) => ((pieces += chunk.length > 0 ? 1 : 0), write(chunk, ...rest));
    socket._writev = (chunks: Chunk[], ...rest: unknown[]) => ((pieces += chunks.filter((c) => c.chunk.length > 0).length), writev(chunks, ...rest));
    const sink = new HttpResponseSink(wireFor(res), false, quiet, { memory: 256 * 1024, dir: tmpdir(), maxFile: 1 << 30 }, new SendWatch(0, quiet));
    sink.head(200, 'OK', [['Content-Length', String(declared)]]);
    sink.body(body, () => {}, true);
    sink.end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
    client.end('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const chunks: Buffer[] = [];
    for await (const chunk of client) chunks.push(chunk as Buffer);
    return { pieces, raw: Buffer.concat(chunks).toString('latin1') };
  } finally {
    server.close();
    server.closeAllConnections();
  }
}

test('a small last piece leaves in one piece with the head, its bytes unchanged', async () => {
  // Every byte value survives the latin-1 round trip the one-piece path takes.
  const body = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const { pieces, raw } = await serveLast(256, body);
  assert.equal(pieces, 1, 'head and body as one piece, not two');
  assert.ok(raw.startsWith('HTTP/1.1 200 OK\r\n'));
  assert.equal(raw.slice(raw.indexOf('\r\n\r\n') + 4), body.toString('latin1'));
});

test('a last piece short of the Content-Length still goes out before the connection closes', async () => {
  const { raw } = await serveLast(100, Buffer.from('only ten b'));
  assert.ok(raw.endsWith('\r\n\r\nonly ten b'), raw);
});
