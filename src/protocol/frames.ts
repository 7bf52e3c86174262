/*
 * The frame codec between Node and a Python worker (mirrored in python/nodicorn_worker/protocol.py;
 * both are checked against the golden vectors in test/fixtures/frames/*.json).
 *
 * Every frame is a 9-byte header and a payload, all integers little-endian:
 *
 *    0               4       5               9
 *   +---------------+-------+---------------+---------------------------+
 *   | payload len   | type  | request id    | payload (len bytes)       |
 *   | u32           | u8    | u32           |                           |
 *   +---------------+-------+---------------+---------------------------+
 *
 * Request id 0 is the worker itself (READY, BOOT_ERROR); ids 1.. are requests, assigned by Node
 * per worker, so the threads of one worker multiplex one pipe.
 *
 * A "pair block" carries environ entries and response headers without per-pair parsing in Python
 * (one struct.unpack for all lengths, then slices):
 *
 *   | u16 n | n × (u32 key len, u32 value len) | keys and values, concatenated in order |
 *
 * Node → worker                         payload
 *   REQUEST       0x01  u8 flags, then the environ entries (latin-1 strings), in one of two
 *                       layouts. With TEXT_PAIRS (0x80) in flags: u16 n, then keys and values
 *                       joined by NUL (k\0v\0k\0v: 2n - 1 separators), which Python takes
 *                       apart with one str.split; Node sends this whenever no key or value
 *                       holds a NUL. Without it (a percent-decoded %00 in PATH_INFO): a pair
 *                       block. Decoders return the flags without TEXT_PAIRS.
 *   BODY          0x02  request body bytes
 *   BODY_END      0x03  (empty) the request body is complete
 *   ABORT         0x04  (empty) the client went away: stop the app, call close(), answer END
 *   CREDIT        0x05  u32 n: Node flushed n more response bytes to the client
 *   BODY_FILE     0x06  u64 offset, u64 length, u64 device, u64 inode, UTF-8 path: the rest of
 *                       the request body is `length` bytes of the spooled temp file at `offset`,
 *                       which the worker opens itself at `path` (/proc/<node pid>/fd/<fd>) and
 *                       checks is the same file (device and inode); BODY_END follows. Sent only
 *                       to a worker whose READY said `body_files`; those bytes earn no credit
 *
 * worker → Node
 *   READY         0x10  JSON {pid, python, threads, body_files}
 *   BOOT_ERROR    0x11  JSON {type, message, traceback}; the worker then exits with code 3 or 4
 *   RESPONSE_HEAD 0x12  u16 status, u16 reason len, reason, pair block of headers
 *   RESPONSE_BODY 0x13  response body bytes
 *   FILE          0x14  u32 offset lo, u32 offset hi, u32 length lo, u32 length hi
 *                       (length 0xffffffff_ffffffff = to end of file), UTF-8 path: Node sends the
 *                       file itself, so the bytes never cross the pipe
 *   END           0x15  (empty) the response is complete and the request's thread is free
 *   ERROR         0x16  JSON {type, message, traceback}: the app failed; terminal like END
 *   CONTINUE      0x17  (empty) the app reads the body: answer 100 Continue, start sending it
 *   BODY_CREDIT   0x18  u32 n: the app consumed n more request body bytes
 *   MODULES       0x19  source file paths joined by NUL (UTF-8): files the worker has loaded
 *                       (its modules, and the files a failed boot's traceback names), sent only
 *                       by a worker started with --report-modules (--reload), before READY or
 *                       BOOT_ERROR and later whenever it imports more; each lists only new paths
 *
 * Flow control, both directions: the sender may have WINDOW bytes unacknowledged; the receiver
 * acknowledges in units of at least WINDOW/2, so small bodies and responses cost no credit frames.
 */

export const HEADER_SIZE = 9;
/** Larger payloads are split by the sender; a bigger length on the wire means a corrupt stream. */
export const MAX_PAYLOAD = 16 * 1024 * 1024;
/** Unacknowledged body bytes allowed in flight per request, in either direction. */
export const WINDOW = 1024 * 1024;
export const ACK_UNIT = WINDOW / 2;
export const WHOLE_FILE = -1;

export const FrameType = {
  REQUEST: 0x01,
  BODY: 0x02,
  BODY_END: 0x03,
  ABORT: 0x04,
  CREDIT: 0x05,
  BODY_FILE: 0x06,
  READY: 0x10,
  BOOT_ERROR: 0x11,
  RESPONSE_HEAD: 0x12,
  RESPONSE_BODY: 0x13,
  FILE: 0x14,
  END: 0x15,
  ERROR: 0x16,
  CONTINUE: 0x17,
  BODY_CREDIT: 0x18,
  MODULES: 0x19,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

export const RequestFlags = {
  /** BODY frames follow, then BODY_END. */
  HAS_BODY: 1,
  /** The length is unknown (chunked): the worker sets wsgi.input_terminated. */
  CHUNKED: 2,
  /** The client waits for 100 Continue: no body comes until the worker sends CONTINUE. */
  EXPECT_CONTINUE: 4,
} as const;

export interface Frame {
  type: number;
  id: number;
  payload: Buffer;
}

export class ProtocolError extends Error {
  readonly code = 'ERR_PROTOCOL';
}

/** Writes one frame header into `out` at `at`. */
export function writeHeader(out: Buffer, at: number, type: number, id: number, length: number): void {
  out.writeUInt32LE(length, at);
  out[at + 4] = type;
  out.writeUInt32LE(id, at + 5);
}

export function encodeFrame(type: number, id: number, payload?: Buffer): Buffer {
  const length = payload ? payload.length : 0;
  const out = Buffer.allocUnsafe(HEADER_SIZE + length);
  writeHeader(out, 0, type, id, length);
  if (payload) payload.copy(out, HEADER_SIZE);
  return out;
}

/** Size in bytes of a pair block holding these latin-1 pairs. */
export function pairBlockSize(pairs: ReadonlyArray<readonly [string, string]>): number {
  let size = 2 + pairs.length * 8;
  for (const [k, v] of pairs) size += k.length + v.length;
  return size;
}

/**
 * Writes a pair block at `at` (strings are latin-1: one byte per code point ≤ 0xff).
 * The strings are joined and written in one call: a Buffer write per string crosses into C++
 * thirty times for a typical environ, and that showed in the request path's profile.
 */
export function writePairBlock(out: Buffer, at: number, pairs: ReadonlyArray<readonly [string, string]>): number {
  out.writeUInt16LE(pairs.length, at);
  let lens = at + 2;
  const data = lens + pairs.length * 8;
  let text = '';
  for (const [k, v] of pairs) {
    out.writeUInt32LE(k.length, lens);
    out.writeUInt32LE(v.length, lens + 4);
    lens += 8;
    text += k + v;
  }
  return data + out.write(text, data, 'latin1');
}

export function readPairBlock(buf: Buffer, at: number): Array<[string, string]> {
  if (at + 2 > buf.length) throw new ProtocolError('pair block: truncated count');
  const n = buf.readUInt16LE(at);
  let lens = at + 2;
  const data = lens + n * 8;
  if (data > buf.length) throw new ProtocolError('pair block: truncated lengths');
  let total = 0;
  for (let i = 0; i < n; i++) total += buf.readUInt32LE(lens + i * 8) + buf.readUInt32LE(lens + i * 8 + 4);
  if (data + total !== buf.length) throw new ProtocolError(data + total > buf.length ? 'pair block: truncated data' : 'pair block: trailing bytes');
  // One decode for all the strings; the pairs are slices of it (cheap in V8).
  const text = buf.toString('latin1', data, buf.length);
  const pairs: Array<[string, string]> = [];
  let pos = 0;
  for (let i = 0; i < n; i++) {
    const kl = buf.readUInt32LE(lens);
    const vl = buf.readUInt32LE(lens + 4);
    lens += 8;
    pairs.push([text.slice(pos, pos + kl), text.slice(pos + kl, pos + kl + vl)]);
    pos += kl + vl;
  }
  return pairs;
}

/** REQUEST flags bit: the environ follows as NUL-joined text, not as a pair block. */
export const TEXT_PAIRS = 0x80;

/**
 * The environ's strings must be latin-1 (every character at most 0xff), as node:http and
 * node:http2 hand them over and Pairs promises: a wider character is written as its low byte,
 * which in the text layout could be a NUL and shift every pair after it.
 */
export function encodeRequest(id: number, flags: number, environ: ReadonlyArray<readonly [string, string]>): Buffer {
  const n = environ.length;
  let text = '';
  for (let i = 0; i < n; i++) {
    const [k, v] = environ[i] as readonly [string, string];
    // A NUL cannot be told apart from a separator: the length-prefixed layout carries anything.
    if (k.indexOf('\0') !== -1 || v.indexOf('\0') !== -1) return encodeRequestPairBlock(id, flags, environ);
    text += i === 0 ? `${k}\0${v}` : `\0${k}\0${v}`;
  }
  const length = 3 + text.length;
  const out = Buffer.allocUnsafe(HEADER_SIZE + length);
  writeHeader(out, 0, FrameType.REQUEST, id, length);
  out[HEADER_SIZE] = flags | TEXT_PAIRS;
  out.writeUInt16LE(n, HEADER_SIZE + 1);
  out.write(text, HEADER_SIZE + 3, 'latin1');
  return out;
}

function encodeRequestPairBlock(id: number, flags: number, environ: ReadonlyArray<readonly [string, string]>): Buffer {
  const length = 1 + pairBlockSize(environ);
  const out = Buffer.allocUnsafe(HEADER_SIZE + length);
  writeHeader(out, 0, FrameType.REQUEST, id, length);
  out[HEADER_SIZE] = flags;
  writePairBlock(out, HEADER_SIZE + 1, environ);
  return out;
}

export function decodeRequest(payload: Buffer): { flags: number; environ: Array<[string, string]> } {
  if (payload.length < 1) throw new ProtocolError('REQUEST: empty payload');
  const flags = payload[0] as number;
  if (!(flags & TEXT_PAIRS)) return { flags, environ: readPairBlock(payload, 1) };
  if (payload.length < 3) throw new ProtocolError('REQUEST: truncated count');
  const n = payload.readUInt16LE(1);
  const parts = n === 0 && payload.length === 3 ? [] : payload.toString('latin1', 3).split('\0');
  if (parts.length !== 2 * n) throw new ProtocolError(`REQUEST: ${parts.length} strings for ${n} pairs`);
  const environ: Array<[string, string]> = [];
  for (let i = 0; i < parts.length; i += 2) environ.push([parts[i] as string, parts[i + 1] as string]);
  return { flags: flags & ~TEXT_PAIRS, environ };
}

export interface ResponseHead {
  status: number;
  reason: string;
  headers: Array<[string, string]>;
}

export function encodeResponseHead(id: number, head: ResponseHead): Buffer {
  const length = 4 + head.reason.length + pairBlockSize(head.headers);
  const out = Buffer.allocUnsafe(HEADER_SIZE + length);
  writeHeader(out, 0, FrameType.RESPONSE_HEAD, id, length);
  out.writeUInt16LE(head.status, HEADER_SIZE);
  out.writeUInt16LE(head.reason.length, HEADER_SIZE + 2);
  out.write(head.reason, HEADER_SIZE + 4, 'latin1');
  writePairBlock(out, HEADER_SIZE + 4 + head.reason.length, head.headers);
  return out;
}

export function decodeResponseHead(payload: Buffer): ResponseHead {
  if (payload.length < 4) throw new ProtocolError('RESPONSE_HEAD: truncated');
  const status = payload.readUInt16LE(0);
  const rl = payload.readUInt16LE(2);
  if (4 + rl > payload.length) throw new ProtocolError('RESPONSE_HEAD: truncated reason');
  return { status, reason: payload.toString('latin1', 4, 4 + rl), headers: readPairBlock(payload, 4 + rl) };
}

export function encodeCount(type: number, id: number, n: number): Buffer {
  const out = Buffer.allocUnsafe(HEADER_SIZE + 4);
  writeHeader(out, 0, type, id, 4);
  out.writeUInt32LE(n, HEADER_SIZE);
  return out;
}

export function decodeCount(payload: Buffer): number {
  if (payload.length !== 4) throw new ProtocolError('count frame: payload must be 4 bytes');
  return payload.readUInt32LE(0);
}

export interface FileRange {
  path: string;
  offset: number;
  /** WHOLE_FILE (-1) means to the end of the file. */
  length: number;
}

function writeU64(out: Buffer, at: number, n: number): void {
  if (n < 0) {
    out.writeUInt32LE(0xffffffff, at);
    out.writeUInt32LE(0xffffffff, at + 4);
  } else {
    out.writeUInt32LE(n % 0x100000000, at);
    out.writeUInt32LE(Math.floor(n / 0x100000000), at + 4);
  }
}

function readU64(buf: Buffer, at: number): number {
  const lo = buf.readUInt32LE(at);
  const hi = buf.readUInt32LE(at + 4);
  if (lo === 0xffffffff && hi === 0xffffffff) return WHOLE_FILE;
  return hi * 0x100000000 + lo;
}

/** FILE and BODY_FILE: offset and length, the file's identity (BODY_FILE), then the path. */
function encodeFileRange(type: number, id: number, file: FileRange, identity: readonly bigint[]): Buffer {
  const path = Buffer.from(file.path, 'utf8');
  const fixed = 16 + 8 * identity.length;
  const out = Buffer.allocUnsafe(HEADER_SIZE + fixed + path.length);
  writeHeader(out, 0, type, id, fixed + path.length);
  writeU64(out, HEADER_SIZE, file.offset);
  writeU64(out, HEADER_SIZE + 8, file.length);
  identity.forEach((n, i) => out.writeBigUInt64LE(n, HEADER_SIZE + 16 + 8 * i));
  path.copy(out, HEADER_SIZE + fixed);
  return out;
}

export function encodeFile(id: number, file: FileRange): Buffer {
  return encodeFileRange(FrameType.FILE, id, file, []);
}

export function decodeFile(payload: Buffer): FileRange {
  if (payload.length < 16) throw new ProtocolError('FILE: truncated');
  return { offset: readU64(payload, 0), length: readU64(payload, 8), path: payload.toString('utf8', 16) };
}

/** Where a worker finds the spooled rest of a request body (BODY_FILE). */
export interface BodyFile extends FileRange {
  /** The file's identity from fstat: a path that now names another file is refused. */
  dev: bigint;
  ino: bigint;
}

export function encodeBodyFile(id: number, file: BodyFile): Buffer {
  return encodeFileRange(FrameType.BODY_FILE, id, file, [file.dev, file.ino]);
}

export function decodeBodyFile(payload: Buffer): BodyFile {
  if (payload.length < 32) throw new ProtocolError('BODY_FILE: truncated');
  return {
    offset: readU64(payload, 0),
    length: readU64(payload, 8),
    dev: payload.readBigUInt64LE(16),
    ino: payload.readBigUInt64LE(24),
    path: payload.toString('utf8', 32),
  };
}

/** MODULES: paths joined by NUL, which no path can hold. */
export function encodePaths(type: number, id: number, paths: readonly string[]): Buffer {
  return encodeFrame(type, id, Buffer.from(paths.join('\0'), 'utf8'));
}

export function decodePaths(payload: Buffer): string[] {
  return payload.length === 0 ? [] : payload.toString('utf8').split('\0');
}

export function encodeJson(type: number, id: number, value: unknown): Buffer {
  return encodeFrame(type, id, Buffer.from(JSON.stringify(value), 'utf8'));
}

export function decodeJson(payload: Buffer): unknown {
  try {
    return JSON.parse(payload.toString('utf8'));
  } catch {
    throw new ProtocolError('JSON frame: invalid JSON');
  }
}

/** How much of a streamed frame is gathered before it is handed on (see FrameReader.gather). */
export const STREAM_BATCH = 192 * 1024;

/**
 * Cuts a byte stream into frames. A read holding many small frames costs no copies (payloads are
 * views of the chunk); a frame spread over many reads is joined once, when its last byte arrives.
 *
 * Frame types listed in `streamed` are the exception: their payload is plain bytes with no
 * structure (RESPONSE_BODY), so it is handed on in pieces, views of the reads, never joined:
 * up to STREAM_BATCH bytes at a time, as frames of their own returned together. A 1 MiB body
 * then costs no copy and no 1 MiB buffer.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private have = 0;
  /** Bytes needed before parsing can make progress again. */
  private need = HEADER_SIZE;
  /** A streamed frame whose payload is still arriving: its type, id and bytes to come. */
  private streamType = 0;
  private streamId = 0;
  private streamLeft = 0;
  /** Views of the streamed frame's payload not handed on yet, and their bytes. */
  private streamParts: Buffer[] = [];
  private streamGathered = 0;

  constructor(private readonly streamed: ReadonlySet<number> = new Set()) {}

  /** Feeds one chunk; returns the frames it completes, in order. */
  push(chunk: Buffer): Frame[] {
    const frames: Frame[] = [];
    if (this.streamLeft > 0) {
      const take = Math.min(this.streamLeft, chunk.length);
      this.streamLeft -= take;
      this.gather(chunk.subarray(0, take), frames);
      if (take === chunk.length) return frames;
      chunk = chunk.subarray(take);
    }
    if (this.have > 0) {
      this.chunks.push(chunk);
      this.have += chunk.length;
      if (this.have < this.need) return frames;
      chunk = Buffer.concat(this.chunks, this.have);
      this.chunks = [];
      this.have = 0;
    }
    let at = 0;
    this.need = HEADER_SIZE;
    while (chunk.length - at >= HEADER_SIZE) {
      const length = chunk.readUInt32LE(at);
      if (length > MAX_PAYLOAD) throw new ProtocolError(`frame of ${length} bytes exceeds ${MAX_PAYLOAD}`);
      const type = chunk[at + 4] as number;
      const end = at + HEADER_SIZE + length;
      if (end > chunk.length) {
        if (this.streamed.has(type)) {
          this.streamType = type;
          this.streamId = chunk.readUInt32LE(at + 5);
          this.streamLeft = end - chunk.length;
          if (chunk.length > at + HEADER_SIZE) this.gather(chunk.subarray(at + HEADER_SIZE), frames);
          return frames;
        }
        this.need = HEADER_SIZE + length;
        break;
      }
      frames.push({ type, id: chunk.readUInt32LE(at + 5), payload: chunk.subarray(at + HEADER_SIZE, end) });
      at = end;
    }
    if (at < chunk.length) {
      this.chunks.push(chunk.subarray(at));
      this.have = chunk.length - at;
    }
    return frames;
  }

  /**
   * Holds a streamed frame's views until STREAM_BATCH bytes or the frame's end, then hands them on
   * together: one pipe read is 64 KiB, and a socket write per read costs a syscall and a wake-up
   * of the client each. The rest of the frame is already on its way, so nothing waits for long.
   */
  private gather(part: Buffer, frames: Frame[]): void {
    this.streamParts.push(part);
    this.streamGathered += part.length;
    if (this.streamLeft > 0 && this.streamGathered < STREAM_BATCH) return;
    for (const payload of this.streamParts) frames.push({ type: this.streamType, id: this.streamId, payload });
    this.streamParts = [];
    this.streamGathered = 0;
  }

  /** Bytes held that do not yet make a whole frame. */
  get buffered(): number {
    return this.have;
  }
}
