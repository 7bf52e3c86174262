import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  FrameReader,
  STREAM_BATCH,
  FrameType,
  MAX_PAYLOAD,
  ProtocolError,
  decodeCount,
  decodeBodyFile,
  decodeFile,
  decodeJson,
  decodePaths,
  decodeRequest,
  decodeResponseHead,
  encodeCount,
  encodeBodyFile,
  encodeFile,
  encodeFrame,
  encodeJson,
  encodePaths,
  encodeRequest,
  encodeResponseHead,
  RequestFlags,
  TEXT_PAIRS,
  type Frame,
} from './frames';

interface Vector {
  name: string;
  type: keyof typeof FrameType;
  id: number;
  fields: Record<string, unknown>;
  hex: string;
}

const vectors = (JSON.parse(readFileSync(join(__dirname, '..', '..', 'test', 'fixtures', 'frames', 'vectors.json'), 'utf8')) as { vectors: Vector[] }).vectors;

function encode(v: Vector): Buffer {
  const t = FrameType[v.type];
  const f = v.fields as any;
  switch (v.type) {
    case 'REQUEST':
      return encodeRequest(v.id, f.flags, f.environ);
    case 'RESPONSE_HEAD':
      return encodeResponseHead(v.id, f);
    case 'BODY':
    case 'RESPONSE_BODY':
      return encodeFrame(t, v.id, Buffer.from(f.data_hex, 'hex'));
    case 'CREDIT':
    case 'BODY_CREDIT':
      return encodeCount(t, v.id, f.n);
    case 'READY':
    case 'BOOT_ERROR':
    case 'ERROR':
      return encodeJson(t, v.id, f.json);
    case 'FILE':
      return encodeFile(v.id, f);
    case 'BODY_FILE':
      return encodeBodyFile(v.id, { ...f, dev: BigInt(f.dev), ino: BigInt(f.ino) });
    case 'MODULES':
      return encodePaths(t, v.id, f.paths);
    default:
      return encodeFrame(t, v.id);
  }
}

function decodeFields(v: Vector, frame: Frame): unknown {
  switch (v.type) {
    case 'REQUEST':
      return decodeRequest(frame.payload);
    case 'RESPONSE_HEAD':
      return decodeResponseHead(frame.payload);
    case 'BODY':
    case 'RESPONSE_BODY':
      return { data_hex: frame.payload.toString('hex') };
    case 'CREDIT':
    case 'BODY_CREDIT':
      return { n: decodeCount(frame.payload) };
    case 'READY':
    case 'BOOT_ERROR':
    case 'ERROR':
      return { json: decodeJson(frame.payload) };
    case 'FILE':
      return decodeFile(frame.payload);
    case 'BODY_FILE': {
      const file = decodeBodyFile(frame.payload);
      return { ...file, dev: Number(file.dev), ino: Number(file.ino) };
    }
    case 'MODULES':
      return { paths: decodePaths(frame.payload) };
    default:
      assert.equal(frame.payload.length, 0);
      return {};
  }
}

test('golden vectors cover every frame type', () => {
  const covered = new Set(vectors.map((v) => v.type));
  for (const name of Object.keys(FrameType)) assert.ok(covered.has(name as Vector['type']), `no vector for ${name}`);
});

for (const v of vectors) {
  test(`golden vector ${v.name}: encode`, () => {
    assert.equal(encode(v).toString('hex'), v.hex);
  });
  test(`golden vector ${v.name}: decode`, () => {
    const frames = new FrameReader().push(Buffer.from(v.hex, 'hex'));
    assert.equal(frames.length, 1);
    const frame = frames[0] as Frame;
    assert.equal(frame.type, FrameType[v.type]);
    assert.equal(frame.id, v.id);
    assert.deepEqual(decodeFields(v, frame), v.fields);
  });
}

test('a stream of all vectors decodes the same in any split', () => {
  const stream = Buffer.concat(vectors.map((v) => Buffer.from(v.hex, 'hex')));
  let seed = 12345;
  const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const splits: Array<(at: number) => number> = [() => 1, () => 1 + Math.floor(random() * 40), () => stream.length];
  for (const step of splits) {
    const reader = new FrameReader();
    const got: Frame[] = [];
    for (let at = 0; at < stream.length; ) {
      const n = Math.min(step(at), stream.length - at);
      got.push(...reader.push(stream.subarray(at, at + n)));
      at += n;
    }
    assert.equal(reader.buffered, 0);
    assert.deepEqual(
      got.map((f) => [f.type, f.id, f.payload.toString('hex')]),
      vectors.map((v) => {
        const b = Buffer.from(v.hex, 'hex');
        return [b[4], b.readUInt32LE(5), b.subarray(9).toString('hex')];
      }),
    );
  }
});

test('streamed types arrive in pieces that are views of the reads, gathered per STREAM_BATCH, other frames whole', () => {
  const body = Buffer.alloc(300_000, 7);
  for (let i = 0; i < body.length; i += 997) body[i] = i % 251;
  const stream = Buffer.concat([
    encodeFrame(FrameType.RESPONSE_HEAD, 3, Buffer.from('head')),
    encodeFrame(FrameType.RESPONSE_BODY, 3, body),
    encodeFrame(FrameType.END, 3),
    encodeFrame(FrameType.RESPONSE_BODY, 4, Buffer.alloc(0)),
    encodeFrame(FrameType.ERROR, 4, Buffer.from('{}')),
  ]);
  for (const size of [1, 7, 4096, 65536, stream.length]) {
    const reader = new FrameReader(new Set([FrameType.RESPONSE_BODY]));
    const got: Frame[] = [];
    const reads = new Set<ArrayBufferLike>();
    let bodySoFar = 0;
    for (let at = 0; at < stream.length; at += size) {
      const read = Buffer.from(stream.subarray(at, at + size));
      reads.add(read.buffer);
      let handedOn = 0;
      for (const f of reader.push(read)) {
        // A piece of a body frame that does not fit one read is a view of a read, never a copy.
        if (f.type === FrameType.RESPONSE_BODY && size < body.length && size > 9) assert.ok(reads.has(f.payload.buffer), `a view at read size ${size}`);
        if (f.type === FrameType.RESPONSE_BODY && f.id === 3) handedOn += f.payload.length;
        got.push(f);
      }
      // Pieces are held until STREAM_BATCH bytes or the frame's end, then handed on together.
      bodySoFar += handedOn;
      if (handedOn > 0) assert.ok(handedOn >= STREAM_BATCH || bodySoFar === body.length, `a batch of ${handedOn} at read size ${size}`);
    }
    const bodies = got.filter((f) => f.type === FrameType.RESPONSE_BODY && f.id === 3);
    assert.ok(size >= stream.length || bodies.length > 1, `split into pieces at read size ${size}`);
    assert.ok(Buffer.concat(bodies.map((f) => f.payload)).equals(body), `body intact at read size ${size}`);
    assert.deepEqual(
      got.filter((f) => f.type !== FrameType.RESPONSE_BODY).map((f) => [f.type, f.id, f.payload.toString()]),
      [[FrameType.RESPONSE_HEAD, 3, 'head'], [FrameType.END, 3, ''], [FrameType.ERROR, 4, '{}']],
    );
  }
});

test('an oversized length is a protocol error, not an allocation', () => {
  const header = Buffer.alloc(9);
  header.writeUInt32LE(MAX_PAYLOAD + 1, 0);
  assert.throws(() => new FrameReader().push(header), ProtocolError);
});

test('a truncated pair block is rejected', () => {
  // A NUL in a value: the length-prefixed layout, whose lengths catch a short payload.
  const frame = encodeRequest(1, 0, [['A', 'b\0c']]);
  assert.equal((frame[9] as number) & TEXT_PAIRS, 0);
  const payload = frame.subarray(9, frame.length - 1);
  assert.throws(() => decodeRequest(payload), ProtocolError);
});

test('the usual REQUEST layout is NUL-joined text, with a count that must match', () => {
  const frame = encodeRequest(1, RequestFlags.HAS_BODY, [['A', 'b'], ['C', '']]);
  const payload = frame.subarray(9);
  assert.equal(payload[0], RequestFlags.HAS_BODY | TEXT_PAIRS);
  assert.equal(payload.subarray(3).toString('latin1'), 'A\0b\0C\0');
  assert.deepEqual(decodeRequest(payload), { flags: RequestFlags.HAS_BODY, environ: [['A', 'b'], ['C', '']] });
  for (const bad of [Buffer.concat([payload, Buffer.from([0])]), payload.subarray(0, 3), payload.subarray(0, 2)]) {
    assert.throws(() => decodeRequest(bad), ProtocolError);
  }
});
