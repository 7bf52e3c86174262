import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { holdForTurn, releaseNow } from './turn-cork';

/** A connected pair on loopback; `writes` counts the server socket's trips to the kernel. */
async function pair(): Promise<{ server: Server; sending: Socket; receiving: Socket; writes: number[]; close(): void }> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  const receiving = connect(address.port, '127.0.0.1');
  const [sending] = (await once(server, 'connection')) as [Socket];
  await once(receiving, 'connect');
  // Each entry: how many pieces one _write (1) or _writev (n) handed on.
  const writes: number[] = [];
  const s = sending as unknown as { _write: (...a: unknown[]) => void; _writev: (chunks: unknown[], cb: unknown) => void };
  const write = s._write.bind(sending);
  const writev = s._writev.bind(sending);
  s._write = (...a: unknown[]) => {
    writes.push(1);
    write(...a);
  };
  s._writev = (chunks: unknown[], cb: unknown) => {
    writes.push(chunks.length);
    writev(chunks, cb);
  };
  return {
    server,
    sending,
    receiving,
    writes,
    close() {
      receiving.destroy();
      sending.destroy();
      server.close();
    },
  };
}

async function receive(socket: Socket, bytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let have = 0;
  while (have < bytes) {
    const [chunk] = (await once(socket, 'data')) as [Buffer];
    chunks.push(chunk);
    have += chunk.length;
  }
  return Buffer.concat(chunks);
}

test('pieces written in one turn while held leave in one writev at the turn end', async () => {
  const p = await pair();
  try {
    const pieces = [Buffer.alloc(70_000, 'a'), Buffer.alloc(70_000, 'b'), Buffer.alloc(10, 'c')];
    holdForTurn(p.sending);
    holdForTurn(p.sending); // a second hold in the same turn is the same hold
    assert.equal(p.sending.writableCorked, 1);
    for (const piece of pieces) p.sending.write(piece);
    assert.deepEqual(p.writes, [], 'nothing reaches the kernel before the turn ends');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(p.writes, [3]);
    assert.equal(p.sending.writableCorked, 0);
    assert.deepEqual(await receive(p.receiving, 140_010), Buffer.concat(pieces));
  } finally {
    p.close();
  }
});

test('releaseNow sends at once, and the turn end does not uncork the socket a second time', async () => {
  const p = await pair();
  try {
    holdForTurn(p.sending);
    p.sending.write('head ');
    p.sending.write('body');
    releaseNow(p.sending);
    assert.deepEqual(p.writes, [2]);
    // A cork someone else takes afterwards survives this turn's end.
    p.sending.cork();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(p.sending.writableCorked, 1);
    p.sending.uncork();
    assert.equal((await receive(p.receiving, 9)).toString(), 'head body');
  } finally {
    p.close();
  }
});
