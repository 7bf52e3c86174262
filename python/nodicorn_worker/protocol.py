"""The frame codec between Node and a Python worker: the mirror of src/protocol/frames.ts.

Both sides are checked against the golden vectors in test/fixtures/frames/*.json, so a change
here without the same change there (or the reverse) fails a test.

Every frame is a 9-byte header and a payload, all integers little-endian:

   0               4       5               9
  +---------------+-------+---------------+---------------------------+
  | payload len   | type  | request id    | payload (len bytes)       |
  | u32           | u8    | u32           |                           |
  +---------------+-------+---------------+---------------------------+

Request id 0 is the worker itself (READY, BOOT_ERROR); ids 1.. are requests, assigned by Node
per worker, so the threads of one worker multiplex one pipe.

A "pair block" carries environ entries and response headers without per-pair parsing in Python
(one struct.unpack for all lengths, then slices):

  | u16 n | n x (u32 key len, u32 value len) | keys and values, concatenated in order |

Node -> worker                         payload
  REQUEST       0x01  u8 flags, then the environ entries (latin-1 strings): with TEXT_PAIRS
                      (0x80) in flags, u16 n and the keys and values joined by NUL (2n - 1
                      separators, one str.split here); without it (a key or value holds a
                      NUL), a pair block. Decoders return the flags without TEXT_PAIRS.
  BODY          0x02  request body bytes
  BODY_END      0x03  (empty) the request body is complete
  ABORT         0x04  (empty) the client went away: stop the app, call close(), answer END
  CREDIT        0x05  u32 n: Node flushed n more response bytes to the client
  BODY_FILE     0x06  u64 offset, u64 length, u64 device, u64 inode, UTF-8 path: the rest of
                      the request body is `length` bytes of the spooled temp file at `offset`,
                      which the worker opens itself at `path` (/proc/<node pid>/fd/<fd>) and
                      checks is the same file (device and inode); BODY_END follows. Sent only
                      to a worker whose READY said `body_files`; those bytes earn no credit

worker -> Node
  READY         0x10  JSON {pid, python, threads, body_files}
  BOOT_ERROR    0x11  JSON {type, message, traceback}; the worker then exits with code 3 or 4
  RESPONSE_HEAD 0x12  u16 status, u16 reason len, reason, pair block of headers
  RESPONSE_BODY 0x13  response body bytes
  FILE          0x14  u32 offset lo, u32 offset hi, u32 length lo, u32 length hi
                      (length 0xffffffff_ffffffff = to end of file), UTF-8 path: Node sends the
                      file itself, so the bytes never cross the pipe
  END           0x15  (empty) the response is complete and the request's thread is free
  ERROR         0x16  JSON {type, message, traceback}: the app failed; terminal like END
  CONTINUE      0x17  (empty) the app reads the body: answer 100 Continue, start sending it
  BODY_CREDIT   0x18  u32 n: the app consumed n more request body bytes
  MODULES       0x19  source file paths joined by NUL (UTF-8): files the worker has loaded
                      (its modules, and the files a failed boot's traceback names), sent only
                      by a worker started with --report-modules (--reload), before READY or
                      BOOT_ERROR and later whenever it imports more; each lists only new paths

Flow control, both directions: the sender may have WINDOW bytes unacknowledged; the receiver
acknowledges in units of at least WINDOW/2, so small bodies and responses cost no credit frames.

Strings in pair blocks are latin-1, so a str's length is its byte length: the codec encodes or
decodes all of a block's text in one call and slices, instead of one call per string.
"""
from __future__ import annotations

import json
import struct
from typing import Any, Iterable, Iterator, List, Sequence, Tuple, Union

# A name and value (an environ entry or a header), a payload's bytes, a frame as FrameReader
# gives it (type, id, payload).
Pair = Tuple[str, str]
Buffer = Union[bytes, bytearray, memoryview]
Frame = Tuple[int, int, Buffer]

HEADER_SIZE = 9
# Larger payloads are split by the sender; a bigger length on the wire means a corrupt stream.
MAX_PAYLOAD = 16 * 1024 * 1024
# Unacknowledged body bytes allowed in flight per request, in either direction.
WINDOW = 1024 * 1024
ACK_UNIT = WINDOW // 2
WHOLE_FILE = -1

REQUEST = 0x01
BODY = 0x02
BODY_END = 0x03
ABORT = 0x04
CREDIT = 0x05
BODY_FILE = 0x06
READY = 0x10
BOOT_ERROR = 0x11
RESPONSE_HEAD = 0x12
RESPONSE_BODY = 0x13
FILE = 0x14
END = 0x15
ERROR = 0x16
CONTINUE = 0x17
BODY_CREDIT = 0x18
MODULES = 0x19

FRAME_TYPES = {
    'REQUEST': REQUEST, 'BODY': BODY, 'BODY_END': BODY_END, 'ABORT': ABORT, 'CREDIT': CREDIT,
    'BODY_FILE': BODY_FILE,
    'READY': READY, 'BOOT_ERROR': BOOT_ERROR, 'RESPONSE_HEAD': RESPONSE_HEAD,
    'RESPONSE_BODY': RESPONSE_BODY, 'FILE': FILE, 'END': END, 'ERROR': ERROR,
    'CONTINUE': CONTINUE, 'BODY_CREDIT': BODY_CREDIT, 'MODULES': MODULES,
}

# Request flags (the u8 at the start of a REQUEST payload).
HAS_BODY = 1          # BODY frames follow, then BODY_END.
CHUNKED = 2           # The length is unknown: the worker sets wsgi.input_terminated.
EXPECT_CONTINUE = 4   # No body comes until the worker sends CONTINUE.
TEXT_PAIRS = 0x80     # Layout, not meaning: the environ is NUL-joined text (see REQUEST).

_header = struct.Struct('<IBI')
_u16 = struct.Struct('<H')
_u32 = struct.Struct('<I')
_count = struct.Struct('<IBII')       # header + u32 payload, for CREDIT / BODY_CREDIT
_head_prefix = struct.Struct('<IBIHH')  # header + status + reason length
_file_prefix = struct.Struct('<IBIIIII')
pack_header = _header.pack
unpack_header = _header.unpack_from

# Pair blocks of a given size recur (the same app sends the same headers): one Struct per n.
_lens_structs = {}


def lens_struct(n: int) -> struct.Struct:
    s = _lens_structs.get(n)
    if s is None:
        s = struct.Struct('<H%dI' % (2 * n))
        if len(_lens_structs) < 256:
            _lens_structs[n] = s
    return s


class ProtocolError(Exception):
    """The byte stream does not follow the frame layout."""


def encode_frame(ftype: int, fid: int, payload: bytes = b'') -> bytes:
    return _header.pack(len(payload), ftype, fid) + payload


def encode_pair_block(pairs: Sequence[Pair]) -> bytes:
    """A pair block for latin-1 (str, str) pairs; UnicodeEncodeError if one is not latin-1."""
    lens = []
    flat = []
    for k, v in pairs:
        lens.append(len(k))
        lens.append(len(v))
        flat.append(k)
        flat.append(v)
    return lens_struct(len(pairs)).pack(len(pairs), *lens) + ''.join(flat).encode('latin-1')


def decode_pair_block(buf: Buffer, at: int = 0) -> List[Pair]:
    """The (key, value) pairs of the pair block that fills buf from `at` to its end."""
    if at + 2 > len(buf):
        raise ProtocolError('pair block: truncated count')
    n = _u16.unpack_from(buf, at)[0]
    data = at + 2 + 8 * n
    if data > len(buf):
        raise ProtocolError('pair block: truncated lengths')
    lens = lens_struct(n).unpack_from(buf, at)
    text = bytes(buf[data:]).decode('latin-1')
    pairs = []
    pos = 0
    end = len(text)
    for i in range(1, 2 * n, 2):
        k_end = pos + lens[i]
        v_end = k_end + lens[i + 1]
        if v_end > end:
            raise ProtocolError('pair block: truncated data')
        pairs.append((text[pos:k_end], text[k_end:v_end]))
        pos = v_end
    if pos != end:
        raise ProtocolError('pair block: trailing bytes')
    return pairs


def encode_request(fid: int, flags: int, environ: Sequence[Pair]) -> bytes:
    if any('\0' in k or '\0' in v for k, v in environ):
        block = encode_pair_block(environ)
        return _header.pack(1 + len(block), REQUEST, fid) + bytes((flags,)) + block
    text = '\0'.join([s for pair in environ for s in pair]).encode('latin-1')
    return _header.pack(3 + len(text), REQUEST, fid) + bytes((flags | TEXT_PAIRS,)) + _u16.pack(len(environ)) + text


def decode_request(payload: Buffer) -> Tuple[int, List[Pair]]:
    """(flags without TEXT_PAIRS, [(key, value), ...]) from either layout."""
    if len(payload) < 1:
        raise ProtocolError('REQUEST: empty payload')
    flags = payload[0]
    if not flags & TEXT_PAIRS:
        return flags, decode_pair_block(payload, 1)
    return flags & ~TEXT_PAIRS, list(text_pairs(payload))


def text_pairs(payload: Buffer) -> Iterator[Pair]:
    """The pairs of a TEXT_PAIRS payload, as an iterator of (key, value) for dict.update."""
    if len(payload) < 3:
        raise ProtocolError('REQUEST: truncated count')
    n = payload[1] | (payload[2] << 8)
    parts = payload[3:].decode('latin-1').split('\0') if len(payload) > 3 or n else []
    if len(parts) != 2 * n:
        raise ProtocolError('REQUEST: %d strings for %d pairs' % (len(parts), n))
    it = iter(parts)
    return zip(it, it)


def encode_response_head(fid: int, status: int, reason: str, headers: Sequence[Pair]) -> bytes:
    rb = reason.encode('latin-1')
    block = encode_pair_block(headers)
    return _head_prefix.pack(4 + len(rb) + len(block), RESPONSE_HEAD, fid, status, len(rb)) + rb + block


def decode_response_head(payload: Buffer) -> Tuple[int, str, List[Pair]]:
    """(status, reason, headers)."""
    if len(payload) < 4:
        raise ProtocolError('RESPONSE_HEAD: truncated')
    status, rl = struct.unpack_from('<HH', payload, 0)
    if 4 + rl > len(payload):
        raise ProtocolError('RESPONSE_HEAD: truncated reason')
    reason = bytes(payload[4:4 + rl]).decode('latin-1')
    return status, reason, decode_pair_block(payload, 4 + rl)


def encode_count(ftype: int, fid: int, n: int) -> bytes:
    return _count.pack(4, ftype, fid, n)


def decode_count(payload: Buffer) -> int:
    if len(payload) != 4:
        raise ProtocolError('count frame: payload must be 4 bytes')
    return _u32.unpack_from(payload, 0)[0]


def _split_u64(n):
    # WHOLE_FILE (any negative) is all ones on the wire.
    if n < 0:
        return 0xffffffff, 0xffffffff
    return n & 0xffffffff, n >> 32


def encode_file(fid: int, path: str, offset: int, length: int) -> bytes:
    pb = path.encode('utf-8')
    olo, ohi = _split_u64(offset)
    llo, lhi = _split_u64(length)
    return _file_prefix.pack(16 + len(pb), FILE, fid, olo, ohi, llo, lhi) + pb


def decode_file(payload: Buffer) -> Tuple[str, int, int]:
    """(path, offset, length); length is WHOLE_FILE for "to the end"."""
    if len(payload) < 16:
        raise ProtocolError('FILE: truncated')
    olo, ohi, llo, lhi = struct.unpack_from('<IIII', payload, 0)

    def join(lo, hi):
        if lo == 0xffffffff and hi == 0xffffffff:
            return WHOLE_FILE
        return (hi << 32) | lo
    return bytes(payload[16:]).decode('utf-8'), join(olo, ohi), join(llo, lhi)


_body_file_prefix = struct.Struct('<IBIQQQQ')
_body_file_fields = struct.Struct('<QQQQ')


def encode_body_file(fid: int, path: str, offset: int, length: int, dev: int, ino: int) -> bytes:
    pb = path.encode('utf-8')
    return _body_file_prefix.pack(32 + len(pb), BODY_FILE, fid, offset, length, dev, ino) + pb


def decode_body_file(payload: Buffer) -> Tuple[str, int, int, int, int]:
    """(path, offset, length, dev, ino)."""
    if len(payload) < 32:
        raise ProtocolError('BODY_FILE: truncated')
    offset, length, dev, ino = _body_file_fields.unpack_from(payload, 0)
    return bytes(payload[32:]).decode('utf-8'), offset, length, dev, ino


def dump_json(value: Any) -> bytes:
    # Same bytes as JSON.stringify: compact separators, non-ASCII left as UTF-8.
    return json.dumps(value, separators=(',', ':'), ensure_ascii=False).encode('utf-8')


def encode_json(ftype: int, fid: int, value: Any) -> bytes:
    return encode_frame(ftype, fid, dump_json(value))


def encode_paths(ftype: int, fid: int, paths: Iterable[str]) -> bytes:
    """MODULES: paths joined by NUL, which no path can hold; undecodable bytes pass as they are."""
    return encode_frame(ftype, fid, '\0'.join(paths).encode('utf-8', 'surrogateescape'))


def decode_paths(payload: Buffer) -> List[str]:
    if not payload:
        return []
    return bytes(payload).decode('utf-8', 'surrogateescape').split('\0')


def decode_json(payload: Buffer) -> Any:
    try:
        return json.loads(bytes(payload).decode('utf-8'))
    except ValueError:
        raise ProtocolError('JSON frame: invalid JSON')


class FrameReader:
    """Cuts a byte stream into frames.

    A read holding many small frames costs one slice per payload. A frame that a read boundary
    cuts is completed from views of the reads, joined once when its last byte arrives: neither
    the rest of the read it ends in nor the reads it spans are copied for it. (Joining what was
    held with the whole next read copied up to 64 KiB more per read; with 10 KiB request bodies
    nearly every read ends inside a frame.)

    Payloads are always bytes, never views: the app keeps them, and a view would hold the whole
    read alive.
    """

    __slots__ = ('_head', '_frame', '_parts', '_have')

    def __init__(self) -> None:
        self._head = b''     # the start of a header that a read cut short (< HEADER_SIZE bytes)
        self._frame = None   # (type, id, length) of a frame whose payload is still arriving
        self._parts = []     # views of that payload's bytes so far
        self._have = 0       # their total

    @property
    def buffered(self) -> int:
        """Bytes held that do not yet make a whole frame."""
        return len(self._head) + (HEADER_SIZE + self._have if self._frame is not None else 0)

    def push(self, chunk: bytes) -> List[Frame]:
        """Feeds one chunk (bytes); returns the frames it completes as (type, id, payload)."""
        frames = []
        append = frames.append
        at = 0
        size = len(chunk)
        if self._head:
            cut = self._head
            head = cut + chunk[:HEADER_SIZE - len(cut)]
            if len(head) < HEADER_SIZE:
                self._head = head
                return frames
            self._head = b''
            at = HEADER_SIZE - len(cut)
            self._frame = _checked_header(head, 0)
        if self._frame is not None:
            ftype, fid, length = self._frame
            take = length - self._have
            if size - at < take:
                if at < size:
                    self._parts.append(memoryview(chunk)[at:])
                    self._have += size - at
                return frames
            parts = self._parts
            parts.append(memoryview(chunk)[at:at + take])
            append((ftype, fid, b''.join(parts)))
            self._frame = None
            self._parts = []
            self._have = 0
            at += take
        unpack = unpack_header
        while size - at >= HEADER_SIZE:
            # _checked_header, inlined: this loop runs once per frame.
            length, ftype, fid = unpack(chunk, at)
            if length > MAX_PAYLOAD:
                raise ProtocolError('frame of %d bytes exceeds %d' % (length, MAX_PAYLOAD))
            start = at + HEADER_SIZE
            end = start + length
            if end > size:
                self._frame = (ftype, fid, length)
                if start < size:
                    self._parts = [memoryview(chunk)[start:]]
                    self._have = size - start
                return frames
            append((ftype, fid, chunk[start:end]))
            at = end
        if at < size:
            self._head = chunk[at:]
        return frames


def _checked_header(data, at):
    """(type, id, length) of the header at `at`, refused past MAX_PAYLOAD."""
    length, ftype, fid = unpack_header(data, at)
    if length > MAX_PAYLOAD:
        raise ProtocolError('frame of %d bytes exceeds %d' % (length, MAX_PAYLOAD))
    return ftype, fid, length
