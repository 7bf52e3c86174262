"""wsgi.input: the request body as it arrives in BODY frames.

Bytes are acknowledged to Node (BODY_CREDIT) only once the app has taken them, so Node, which
never has more than WINDOW unacknowledged bytes in flight, never pushes more than about WINDOW
into this process: a 200 MB upload streams through instead of piling up here.

Reads never go past CONTENT_LENGTH (PEP 3333 lets the app read to it and no further); with a
chunked body (no CONTENT_LENGTH, wsgi.input_terminated) they run to BODY_END.

A body Node spooled to a temp file may come as BODY_FILE instead (Linux): the rest of the body is
read from that file, opened here through /proc, so its bytes never cross the pipe. Those reads
need no credit, since Node sends nothing more.
"""
from __future__ import annotations

import os
from typing import Iterator, List, Optional

from . import protocol as P
from .channel import ClientDisconnected, RequestState

_CONTINUE = P.CONTINUE
_ACK_UNIT = P.ACK_UNIT
_EXPECT_CONTINUE = P.EXPECT_CONTINUE
_encode_count = P.encode_count
_encode_frame = P.encode_frame
_BODY_CREDIT = P.BODY_CREDIT
_decode_body_file = P.decode_body_file
_NO_LIMIT = 1 << 62
# Reads of the temp file: what the app asked for, within these bounds.
_FILE_READ_MIN = 64 * 1024
_FILE_READ_MAX = 8 * 1024 * 1024


def _ready(state):
    return state.chunks or state.body_file is not None or state.body_done or state.aborted


class Input:
    __slots__ = ('_state', '_buf', '_pos', '_left', '_unacked', '_eof', '_file', '_file_left')

    def __init__(self, state: RequestState, length: Optional[int]) -> None:
        self._state = state
        self._buf = b''
        self._pos = 0
        # Bytes the app may still read: CONTENT_LENGTH minus what it read; None = to BODY_END.
        self._left = _NO_LIMIT if length is None else length
        self._unacked = 0
        self._eof = length == 0
        self._file = None      # the temp file while its bytes are being read, else None
        self._file_left = 0

    def __del__(self):
        # An app that stops reading early leaves the file open; the request's end drops it here.
        if self._file is not None:
            self._file.close()

    # -- plumbing --------------------------------------------------------------------------

    def _fill(self, hint=0):
        """Waits until more body bytes are buffered; False at the end of the body. `hint`: the
        bytes the caller wants, the size of a read from the temp file.

        Called only when the buffer is used up, so the new bytes replace it (no re-copying of a
        remainder, which would make a long read() quadratic).
        """
        if self._eof:
            return False
        if self._file is not None:
            return self._fill_from_file(hint)
        state = self._state
        channel = state.channel
        if not state.continued and state.flags & _EXPECT_CONTINUE:
            # The client sends nothing until it gets 100 Continue; ask Node for it only now that
            # the app really wants the body (an app that never reads never triggers it).
            state.continued = True
            channel.send(_encode_frame(_CONTINUE, state.id))
        body_file = None
        with channel.lock:
            if not (state.chunks or state.body_file is not None or state.body_done or state.aborted):
                state.wait(_ready)
            chunks = state.chunks
            if chunks:
                state.chunks = []
            elif state.body_file is not None:
                # Only once every BODY chunk before it is taken: the file holds what came after.
                body_file = state.body_file
                state.body_file = None
        if chunks:
            self._buf = chunks[0] if len(chunks) == 1 else b''.join(chunks)
            self._pos = 0
            return True
        if body_file is not None:
            self._open_file(body_file)
            return self._fill_from_file(hint)
        if state.body_done:
            self._eof = True
            return False
        raise ClientDisconnected()

    def _open_file(self, payload):
        path, offset, length, dev, ino = _decode_body_file(payload)
        try:
            f = open(path, 'rb', buffering=0)
        except OSError as e:
            raise OSError('nodicorn: cannot open the spooled request body (%s): %s' % (path, e))
        st = os.fstat(f.fileno())
        if st.st_dev != dev or st.st_ino != ino:
            f.close()
            raise OSError('nodicorn: %s is no longer the spooled request body' % path)
        if offset:
            f.seek(offset)
        # From here on no credit is due (Node sends nothing more to make room for): a count this
        # far below zero never reaches ACK_UNIT.
        self._unacked = -_NO_LIMIT
        self._file = f
        self._file_left = length

    def _fill_from_file(self, hint):
        if self._state.aborted:
            raise ClientDisconnected()
        left = self._file_left
        n = hint if hint > _FILE_READ_MIN else _FILE_READ_MIN
        if n > _FILE_READ_MAX:
            n = _FILE_READ_MAX
        if n > left:
            n = left
        data = self._file.read(n)
        if not data:
            self._file.close()
            self._file = None
            raise OSError('nodicorn: the spooled request body ended %d bytes early' % left)
        left -= len(data)
        self._file_left = left
        if left == 0:
            # BODY_END came with BODY_FILE: the next _fill finds the end of the body.
            self._file.close()
            self._file = None
        self._buf = data
        self._pos = 0
        return True

    def _take(self, n):
        """The next n buffered bytes (n <= buffered); counts them as consumed."""
        pos = self._pos
        buf = self._buf
        if pos == 0 and n == len(buf):
            data = buf
        else:
            data = buf[pos:pos + n]
        self._pos = pos + n
        self._left -= n
        if self._left <= 0:
            self._eof = True
        unacked = self._unacked + n
        if unacked >= _ACK_UNIT:
            state = self._state
            state.channel.send(_encode_count(_BODY_CREDIT, state.id, unacked))
            unacked = 0
        self._unacked = unacked
        return data

    def _limit(self, size):
        left = self._left
        if size is None or size < 0 or size > left:
            return left
        return size

    # -- the WSGI input stream API (PEP 3333) ------------------------------------------------

    def read(self, size: Optional[int] = -1) -> bytes:
        want = self._limit(size)
        if want <= 0:
            return b''
        parts = None
        while True:
            avail = len(self._buf) - self._pos
            if avail >= want:
                data = self._take(want)
                break
            if avail:
                if parts is None:
                    parts = []
                parts.append(self._take(avail))
                want -= avail
            if not self._fill(want):
                data = b''
                break
        if parts is None:
            return data
        parts.append(data)
        return b''.join(parts)

    def readline(self, size: Optional[int] = -1) -> bytes:
        want = self._limit(size)
        if want <= 0:
            return b''
        parts = None
        while True:
            pos = self._pos
            avail = len(self._buf) - pos
            if avail:
                stop = pos + (want if want < avail else avail)
                nl = self._buf.find(b'\n', pos, stop)
                if nl >= 0:
                    data = self._take(nl + 1 - pos)
                    break
                if avail >= want:
                    data = self._take(want)
                    break
                if parts is None:
                    parts = []
                parts.append(self._take(avail))
                want -= avail
            if not self._fill():
                data = b''
                break
        if parts is None:
            return data
        parts.append(data)
        return b''.join(parts)

    def readlines(self, hint: Optional[int] = None) -> List[bytes]:
        lines = []
        total = 0
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                return lines

    def __iter__(self) -> Input:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def close(self) -> None:
        # The server owns the stream; an app closing it must not break anything.
        pass


class EmptyInput:
    """wsgi.input of a request without a body: stateless, so one instance serves them all."""

    __slots__ = ()

    def read(self, size: Optional[int] = -1) -> bytes:
        return b''

    def readline(self, size: Optional[int] = -1) -> bytes:
        return b''

    def readlines(self, hint: Optional[int] = None) -> List[bytes]:
        return []

    def __iter__(self) -> Iterator[bytes]:
        return iter(())

    def close(self) -> None:
        pass


EMPTY = EmptyInput()
