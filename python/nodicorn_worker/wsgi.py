"""One request, the WSGI way: environ, app(environ, start_response), the result, close().

Frames this sends for a request, in order:
  [CONTINUE] [BODY_CREDIT...] [RESPONSE_HEAD] [RESPONSE_BODY... | FILE] END
  or, when the app raises, ERROR in place of END (after whatever already went out).

The head waits for the first non-empty body chunk (PEP 3333: an app may still replace it with
start_response(..., exc_info) until then), or for the end when the body is empty. close() on the
result runs before END, so END means the app is really done with the request.
"""
from __future__ import annotations

import io
import os
import stat
import sys
import traceback
from types import TracebackType
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, Type

from . import protocol as P
from .protocol import lens_struct, text_pairs
from .body import EMPTY, Input
from .channel import Channel, ClientDisconnected, RequestState, log_exception
from .headers import content_length, encode_head
from .workerconfig import WorkerConfig

# Response body frames are cut at 1 MiB: Node handles them as Buffers, and the flow-control
# window is counted in whole frames.
MAX_BODY_FRAME = 1024 * 1024
WINDOW = P.WINDOW

_pack_header = P.pack_header
_RESPONSE_BODY = P.RESPONSE_BODY
_END = P.END
_TEXT_PAIRS = P.TEXT_PAIRS

# What start_response's exc_info is: sys.exc_info() of the error being handled.
ExcInfo = Tuple[Type[BaseException], BaseException, TracebackType]

_PLAIN_FILES = (io.BufferedReader, io.BufferedRandom, io.FileIO)

class FileWrapper:
    """wsgi.file_wrapper: lets a returned file go out as a FILE frame (Node sends it).

    Iterating it reads blocks, for when the FILE shortcut does not apply (a file-like without a
    real file behind it, or a HEAD request).
    """

    __slots__ = ('filelike', 'blksize', 'close')

    def __init__(self, filelike: Any, blksize: int = 8192) -> None:
        self.filelike = filelike
        self.blksize = blksize
        close = getattr(filelike, 'close', None)
        if close is not None:
            self.close = close

    def __iter__(self) -> Iterator[bytes]:
        read = self.filelike.read
        blksize = self.blksize
        while True:
            data = read(blksize)
            if not data:
                return
            yield data

    def file_range(self) -> Optional[Tuple[str, int, int]]:
        """(absolute path, offset, length) when a plain regular file backs this; else None.

        Only objects straight from open(path, 'rb') qualify: Node opens the path later, so a
        wrapper that deletes its file on close (tempfile.NamedTemporaryFile) or a file whose path
        now names another file must be streamed through the pipe instead.
        """
        f = self.filelike
        if type(f) not in _PLAIN_FILES:
            return None
        name = f.name
        if type(name) is not str:
            return None
        try:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                return None
            path = os.path.abspath(name)
            on_disk = os.stat(path)
            if (on_disk.st_ino, on_disk.st_dev) != (st.st_ino, st.st_dev):
                return None
            offset = f.tell()
        except (OSError, ValueError):
            return None
        return path, offset, max(0, st.st_size - offset)


def _make_environ(payload: P.Buffer, base_environ: Dict[str, Any]) -> Dict[str, Any]:
    """The REQUEST payload's environ entries, as a dict on top of base_environ (a copy).

    This runs for every request. Node's usual layout (TEXT_PAIRS) is one decode and one split,
    both in C. The other layout (a NUL in some value) is decoded once and sliced by the lengths
    that one struct.unpack produced.
    """
    if payload[0] & _TEXT_PAIRS:
        env = base_environ.copy()
        env.update(text_pairs(payload))
        return env
    n = payload[1] | (payload[2] << 8)
    lens = lens_struct(n).unpack_from(payload, 1)
    start = 3 + 8 * n
    text = payload[start:].decode('latin-1')
    if sum(lens) - n != len(text):
        raise P.ProtocolError('REQUEST: pair block lengths do not match its size')
    env = base_environ.copy()
    pos = 0
    for i in range(1, 2 * n, 2):
        k_end = pos + lens[i]
        v_end = k_end + lens[i + 1]
        env[text[pos:k_end]] = text[k_end:v_end]
        pos = v_end
    return env


class WsgiRequest(RequestState):
    __slots__ = ('head', 'head_sent', 'headers', 'is_head', 'environ')

    # Set once by bind(), before the first request: class attributes, so a request reads them
    # as cheaply as module globals, and nothing is copied per request.
    app = None
    base_environ = {}
    sendfile = True

    @classmethod
    def bind(cls, config: WorkerConfig) -> None:
        """Makes this class (and its subclasses) serve config.app."""
        cls.app = staticmethod(config.app)
        cls.sendfile = config.sendfile
        cls.base_environ = {
            'SCRIPT_NAME': '',
            'wsgi.url_scheme': 'http',
            'wsgi.version': (1, 0),
            'wsgi.errors': sys.stderr,
            'wsgi.multithread': config.threads > 1,
            'wsgi.multiprocess': bool(config.multiprocess),
            'wsgi.run_once': False,
            'wsgi.file_wrapper': FileWrapper,
        }

    def __init__(self, channel: Channel, fid: int, payload: P.Buffer) -> None:
        RequestState.__init__(self, channel, fid, payload)
        self.head = None          # the encoded RESPONSE_HEAD frame, once start_response ran
        self.head_sent = False
        self.headers = None
        self.is_head = False
        self.environ = None

    # -- the callables the app gets ----------------------------------------------------------

    def start_response(self, status: str, headers: List[Tuple[str, str]],
                       exc_info: Optional[ExcInfo] = None) -> Callable[[bytes], None]:
        if exc_info is not None:
            try:
                if self.head_sent:
                    # PEP 3333: too late to replace the head; the app's error propagates.
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.head is not None:
            raise RuntimeError('start_response() called a second time without exc_info')
        self.head = encode_head(self.id, status, headers)
        self.headers = headers
        return self.write

    def write(self, data: bytes) -> None:
        if type(data) is not bytes:
            raise TypeError('write() takes bytes, got %s' % type(data).__name__)
        if self.head is None:
            raise RuntimeError('write() called before start_response()')
        self.channel.uncork()
        self.channel.poll()
        if self.aborted:
            raise ClientDisconnected()
        if data:
            self._emit(data)

    # -- sending -----------------------------------------------------------------------------

    def _emit(self, data):
        """Sends a non-empty chunk (with the head, the first time), within the credit window."""
        parts = []
        if not self.head_sent:
            if self.head is None:
                raise RuntimeError('the app produced body bytes before calling start_response()')
            self.head_sent = True
            parts.append(self.head)
        if self.is_head:
            # HEAD: the app runs as for GET, but Node sends no body, so none crosses the pipe.
            if parts:
                self.channel.send(parts[0])
            return
        fid = self.id
        pos = 0
        size = len(data)
        while pos < size:
            room = WINDOW - (self.sent - self.acked)
            if room <= 0:
                if parts:
                    self.channel.send(parts)
                    parts = []
                self._wait_credit()
                continue
            take = size - pos
            if take > room:
                take = room
            if take > MAX_BODY_FRAME:
                take = MAX_BODY_FRAME
            parts.append(_pack_header(take, _RESPONSE_BODY, fid))
            parts.append(data if take == size else memoryview(data)[pos:pos + take])
            self.sent += take
            pos += take
        self.channel.send(parts)

    def _wait_credit(self):
        with self.channel.lock:
            self.wait(_has_credit)
        if self.aborted:
            raise ClientDisconnected()

    # -- the request's life ------------------------------------------------------------------

    def __call__(self) -> None:
        try:
            self._respond()
        finally:
            # The environ holds wsgi.input, which holds this state: kept, every request would
            # be a reference cycle that only the cyclic GC frees, with its body bytes, some
            # hundred requests later.
            self.environ = None

    def _respond(self):
        fid = self.id
        flags = self.flags
        result = None
        error = None
        try:
            self.environ = environ = _make_environ(self.payload, self.base_environ)
            self.payload = None
            self.is_head = environ.get('REQUEST_METHOD') == 'HEAD'
            if flags & P.HAS_BODY:
                if flags & P.CHUNKED:
                    environ['wsgi.input_terminated'] = True
                    length = None
                else:
                    length = environ.get('CONTENT_LENGTH')
                    length = int(length) if length else None
                environ['wsgi.input'] = Input(self, length)
            else:
                environ['wsgi.input'] = EMPTY
            result = self.app(environ, self.start_response)
            rtype = type(result)
            if (rtype is list or rtype is tuple) and not self.head_sent:
                # The hot path: the whole response in one write.
                if self._send_sequence(result):
                    return
            elif rtype is FileWrapper and self._send_file(result):
                return
            channel = self.channel
            poll = channel.poll
            streamed = None
            # Held until the body ends, so that its END leaves in the same write as its body
            # instead of a write of its own (see Channel.batch).
            with channel.batch() as batch:
                for chunk in result:
                    poll()
                    if self.aborted:
                        break
                    if type(chunk) is not bytes:
                        raise TypeError('the app yielded %s, not bytes' % type(chunk).__name__)
                    if streamed is None:
                        # Without a Content-Length the body is a stream (server-sent events, a
                        # long export): it leaves as it comes, not with the rest of a held
                        # batch. With one it is an ordinary answer (Flask's and Django's are
                        # iterables, not lists) and goes out in one write with its END.
                        streamed = self.headers is None or content_length(self.headers) is None
                        if streamed:
                            channel.uncork()
                        else:
                            batch.hold()
                    if chunk:
                        self._emit(chunk)
        except BaseException as e:
            if not (self.aborted and isinstance(e, OSError)):
                error = e
        if result is not None:
            self._close(result)
        self._finish(error)
        # The error's traceback holds this frame, which holds the error: another cycle.
        error = None

    def _send_sequence(self, result):
        """Head, body and END in one frame run; False when the generic path must take over."""
        if self.head is None:
            return False
        for chunk in result:
            if type(chunk) is not bytes:
                return False
        body = result[0] if len(result) == 1 else b''.join(result)
        size = len(body)
        if size > WINDOW - self.sent + self.acked:
            return False
        fid = self.id
        self.head_sent = True
        if size and not self.is_head:
            self.sent += size
            out = [self.head, _pack_header(size, _RESPONSE_BODY, fid), body, _pack_header(0, _END, fid)]
        else:
            out = self.head + _pack_header(0, _END, fid)
        self.channel.send(out)
        return True

    def _send_file(self, wrapper):
        """The FILE shortcut for a wsgi.file_wrapper over a regular file; False if not possible."""
        if self.head is None or not self.sendfile:
            return False
        if self.is_head:
            frames = b''
        else:
            rng = wrapper.file_range()
            if rng is None:
                return False
            path, offset, length = rng
            declared = content_length(self.headers)
            if declared is not None and 0 <= declared < length:
                length = declared
            frames = P.encode_file(self.id, path, offset, length)
        self._close(wrapper)
        self.head_sent = True
        self.channel.send(b''.join((self.head, frames, _pack_header(0, _END, self.id))))
        return True

    def _close(self, result):
        close = getattr(result, 'close', None)
        if close is None:
            return
        try:
            close()
        except BaseException:
            # The response is already complete; the app's cleanup failing does not change it.
            log_exception('Error closing the response of %s' % self._describe())

    def _finish(self, error):
        fid = self.id
        if error is None and not self.head_sent and not self.aborted:
            if self.head is None:
                try:
                    raise RuntimeError('the app returned without calling start_response()')
                except RuntimeError as e:
                    error = e
            else:
                self.head_sent = True
                self.channel.send(self.head + _pack_header(0, _END, fid))
                return
        if error is None:
            self.channel.send(_pack_header(0, _END, fid))
            return
        # Node logs the traceback with the request line (one entry, not two interleaved ones).
        tb = ''.join(traceback.format_exception(type(error), error, error.__traceback__))
        try:
            message = str(error)
        except Exception:
            message = '<unprintable %s>' % type(error).__name__
        self.channel.send(P.encode_json(P.ERROR, fid, {
            'type': type(error).__name__, 'message': message, 'traceback': tb}))

    def _describe(self):
        env = self.environ or {}
        return '%s %s (request id %d)' % (env.get('REQUEST_METHOD', '?'), env.get('RAW_URI') or env.get('PATH_INFO', '?'), self.id)


def _has_credit(state):
    return state.aborted or state.sent - state.acked < WINDOW

