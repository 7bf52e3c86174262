"""wsgi.input: the request body as it arrives in BODY frames.

Bytes are acknowledged to Node (BODY_CREDIT) only once the app has taken them, so Node, which
never has more than WINDOW unacknowledged bytes in flight, never pushes more than about WINDOW
into this process: a 200 MB upload streams through instead of piling up here.

Reads never go past CONTENT_LENGTH (PEP 3333 lets the app read to it and no further); with a
chunked body (no CONTENT_LENGTH, wsgi.input_terminated) they run to BODY_END.
"""
from . import protocol as P
from .channel import ClientDisconnected

_CONTINUE = P.CONTINUE
_ACK_UNIT = P.ACK_UNIT
_EXPECT_CONTINUE = P.EXPECT_CONTINUE
_encode_count = P.encode_count
_encode_frame = P.encode_frame
_BODY_CREDIT = P.BODY_CREDIT
_NO_LIMIT = 1 << 62


def _ready(state):
    return state.chunks or state.body_done or state.aborted


class Input:
    __slots__ = ('_state', '_buf', '_pos', '_left', '_unacked', '_eof')

    def __init__(self, state, length):
        self._state = state
        self._buf = b''
        self._pos = 0
        # Bytes the app may still read: CONTENT_LENGTH minus what it read; None = to BODY_END.
        self._left = _NO_LIMIT if length is None else length
        self._unacked = 0
        self._eof = length == 0

    # -- plumbing --------------------------------------------------------------------------

    def _fill(self):
        """Waits until more body bytes are buffered; False at the end of the body.

        Called only when the buffer is used up, so the new bytes replace it (no re-copying of a
        remainder, which would make a long read() quadratic).
        """
        if self._eof:
            return False
        state = self._state
        channel = state.channel
        if not state.continued and state.flags & _EXPECT_CONTINUE:
            # The client sends nothing until it gets 100 Continue; ask Node for it only now that
            # the app really wants the body (an app that never reads never triggers it).
            state.continued = True
            channel.send(_encode_frame(_CONTINUE, state.id))
        with channel.lock:
            if not (state.chunks or state.body_done or state.aborted):
                state.wait(_ready)
            chunks = state.chunks
            if chunks:
                state.chunks = []
        if chunks:
            self._buf = chunks[0] if len(chunks) == 1 else b''.join(chunks)
            self._pos = 0
            return True
        if state.body_done:
            self._eof = True
            return False
        raise ClientDisconnected()

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

    def read(self, size=-1):
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
            if not self._fill():
                data = b''
                break
        if parts is None:
            return data
        parts.append(data)
        return b''.join(parts)

    def readline(self, size=-1):
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

    def readlines(self, hint=None):
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

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def close(self):
        # The server owns the stream; an app closing it must not break anything.
        pass


class EmptyInput:
    """wsgi.input of a request without a body: stateless, so one instance serves them all."""

    __slots__ = ()

    def read(self, size=-1):
        return b''

    def readline(self, size=-1):
        return b''

    def readlines(self, hint=None):
        return []

    def __iter__(self):
        return iter(())

    def close(self):
        pass


EMPTY = EmptyInput()
