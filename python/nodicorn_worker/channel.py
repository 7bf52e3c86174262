"""The protocol pipe: one reader (the main thread), many writers (the app threads).

The main thread reads fd 3 in large blocks and cuts them into frames. A REQUEST becomes a
request state, registered by id *before* it is queued, so the BODY / ABORT / CREDIT frames that
follow it in the same read always find it. Everything else is routed to that state under one
lock shared by all requests, and its app thread is woken only if it is waiting.

Why plain blocking reads and writes in threads: select() does not work on pipes on Windows, and
fork is not available there; a blocking os.read on the main thread and blocking os.write calls
serialised by a lock behave the same on every platform.

Windows caveat: a pipe handle opened for synchronous I/O (libuv's default for a child's 'pipe')
serialises ReadFile and WriteFile on the same handle, so while the main thread waits in os.read,
a response write would wait for the next incoming frame: a deadlock. On Windows, Node must pass
a second pipe for the worker's writes and say so with --out-fd N (e.g. stdio fd 4); on Unix the
socketpair at fd 3 carries both directions.
"""
from __future__ import annotations

import os
import select
import sys
import threading
import traceback
from collections import deque
from queue import SimpleQueue
from time import monotonic
from typing import Callable, List, Optional, Union

from . import protocol as P

# Below glibc's mmap threshold: a bigger read buffer costs an mmap, mremap and munmap per read.
READ_SIZE = 64 * 1024
POLL_INTERVAL = 0.01
# Below every platform's IOV_MAX (1024 on Linux); longer runs are joined instead.
IOV_MAX = 512
_writev = getattr(os, 'writev', None)


class ClientDisconnected(OSError):
    """Raised into the app when it waits on a client that went away (ABORT)."""

    def __init__(self, message: str = 'client disconnected') -> None:
        OSError.__init__(self, message)


class RequestState:
    """What the reader thread and one app thread share about one request.

    Counters that both threads touch are split so that each is written by one thread only:
    `sent` by the app thread, `acked` by the reader; their difference is the response bytes in
    flight. Booleans and list swaps happen under the channel lock.
    """

    __slots__ = ('channel', 'id', 'flags', 'payload', 'chunks', 'body_file', 'body_done',
                 'aborted', 'sent', 'acked', 'waiter', 'cond', 'continued')

    def __init__(self, channel: Channel, fid: int, payload: Optional[P.Buffer]) -> None:
        self.channel = channel
        self.id = fid
        self.payload = payload
        self.flags = payload[0] if payload else 0
        self.chunks = []          # request body bytes received, not yet taken by wsgi.input
        self.body_file = None     # BODY_FILE's payload: the rest of the body, in Node's temp file
        self.body_done = False    # BODY_END arrived
        self.aborted = False      # ABORT arrived
        self.sent = 0             # response body bytes sent (app thread)
        self.acked = 0            # response body bytes acknowledged by CREDIT (reader thread)
        self.waiter = None        # the Condition the app thread sleeps on, while it sleeps
        self.cond = None          # the app thread's Condition, set when a thread takes it
        self.continued = False    # CONTINUE was sent

    def wait(self, ready: Callable[[RequestState], object]) -> None:
        """Sleeps (no polling) until ready(self) is true; call with channel.lock held."""
        if self.channel.inline:
            # No reader thread to wake us: read and route frames ourselves until ready.
            pump = self.channel.pump
            while not ready(self):
                pump()
            return
        cond = self.cond
        while not ready(self):
            self.waiter = cond
            cond.wait()
        self.waiter = None


class Batch:
    __slots__ = ('channel', 'held')

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.held = False

    def __enter__(self) -> Batch:
        self.hold()
        return self

    def hold(self) -> None:
        """Holds sends again if something (the app's write()) let them go since the block began."""
        channel = self.channel
        if channel.inline and not channel.corked:
            channel.corked = self.held = True

    def __exit__(self, *exc_info: object) -> bool:
        if self.held:
            self.held = False
            self.channel.corked = False
        return False


class Channel:
    def __init__(self, rfd: int, wfd: int, state_class: Callable[[Channel, int, P.Buffer], RequestState],
                 handler: Callable[[RequestState], None], inline: bool = False) -> None:
        self.rfd = rfd
        self.wfd = wfd
        self.state_class = state_class
        self.handler = handler
        self.requests = {}
        # inline: the main thread runs the app itself (one app thread). A request that waits
        # for body bytes or credit reads the pipe in its own wait, so no thread hand-off and no
        # wake-up costs a syscall: this is gunicorn's sync worker shape.
        self.inline = inline
        # One lock for all request states: held only for a few attribute updates, and it lets
        # each app thread own one reusable Condition instead of allocating one per request.
        # Inline, a wait routes frames while its caller holds the lock, hence re-entrant.
        self.lock = threading.RLock() if inline else threading.Lock()
        self.queue = SimpleQueue()
        self._reader = P.FrameReader()
        self._pending = deque()
        self._polled = 0.0
        self.corked = False
        self._batch = Batch(self)
        self._out = deque()
        self._wlock = threading.Lock()

    # -- writing ---------------------------------------------------------------------------

    def send(self, data: Union[bytes, List[P.Buffer]]) -> None:
        """Writes data (bytes, or a list of buffers that stay together), together with whatever
        other threads have queued meanwhile.

        Inline and corked (more requests of the same read wait their turn), data is only
        queued: the end of its request, or any wait for the pipe, writes it all at once.

        Each caller appends one item, then takes the write lock; whoever holds it writes
        everything queued in one syscall, so threads that finish together share it.
        deque.append/popleft are atomic, so no item is lost between a writer's drain and another
        thread's append, and a list is one item, so no other thread's frame lands inside it.
        """
        out = self._out
        out.append(data)
        if self.corked:
            return
        self.flush()

    def batch(self) -> Batch:
        """A context manager: inline, and unless the channel already holds its output (more
        requests of the read wait their turn), sends inside the block are held and leave in one
        write when it ends. A wait for the pipe still flushes (pump), so a long body is never
        stuck. One reusable object: inline, only one request runs at a time."""
        return self._batch

    def uncork(self) -> None:
        """From now on each send writes at once (a streamed body, or the app's write())."""
        self.corked = False

    def flush(self) -> None:
        out = self._out
        with self._wlock:
            parts = []
            pop = out.popleft
            try:
                while True:
                    item = pop()
                    if type(item) is list:
                        parts.extend(item)
                    else:
                        parts.append(item)
            except IndexError:
                pass
            if len(parts) == 1:
                self._write_all(parts[0])
            elif parts:
                self._write_parts(parts)

    def _write_parts(self, parts):
        # writev hands the kernel big bodies where they lie: no join, no copy of a 1 MiB frame.
        if _writev is None or len(parts) > IOV_MAX:
            self._write_all(b''.join(parts))
            return
        try:
            n = _writev(self.wfd, parts)
        except OSError:
            _parent_gone()
        total = 0
        for part in parts:
            total += len(part)
        if n < total:
            self._write_all(b''.join(parts)[n:])

    def _write_all(self, data):
        fd = self.wfd
        try:
            n = os.write(fd, data)
            if n < len(data):
                view = memoryview(data)
                while n < len(view):
                    n += os.write(fd, view[n:])
        except OSError:
            # The parent is gone (EPIPE): nothing this process does can reach anyone.
            _parent_gone()

    # -- threads ---------------------------------------------------------------------------

    def start_threads(self, count: int, name: str = 'nodicorn') -> None:
        for i in range(count):
            t = threading.Thread(target=self._work, name='%s-%d' % (name, i + 1))
            t.daemon = True
            t.start()

    def _work(self):
        cond = threading.Condition(self.lock)
        get = self.queue.get
        handler = self.handler
        requests = self.requests
        while True:
            state = get()
            state.cond = cond
            try:
                handler(state)
            except BaseException:  # the handler reports app errors itself; this is a bug here
                log_exception('nodicorn worker: internal error while handling a request')
            requests.pop(state.id, None)

    # -- reading ---------------------------------------------------------------------------

    def serve(self) -> int:
        """Reads and routes frames until EOF on the pipe; returns the exit code to use."""
        if self.inline:
            return self._serve_inline()
        read = os.read
        rfd = self.rfd
        route = self._route
        while True:
            try:
                chunk = read(rfd, READ_SIZE)
            except OSError:
                chunk = b''
            if not chunk:
                return 0
            code = route(chunk)
            if code is not None:
                return code

    def _serve_inline(self):
        pending = self._pending
        handler = self.handler
        requests = self.requests
        pump = self.pump
        while True:
            while pending:
                state = pending.popleft()
                # An answer's head, body and END leave in one write, and it leaves before the
                # next request of the batch runs: an app that dies there (os._exit, a segfault,
                # the OOM killer) must not take finished answers with it, and Node must see that
                # the oldest unanswered request is the one it died on, the only one not replayed.
                self.corked = bool(pending)
                try:
                    handler(state)
                except BaseException:  # the handler reports app errors itself; this is a bug here
                    log_exception('nodicorn worker: internal error while handling a request')
                requests.pop(state.id, None)
                if self._out:
                    self.flush()
            pump()

    def poll(self) -> None:
        """Inline mode, between two chunks of a streaming response: routes frames that are
        already waiting (an ABORT above all), so an endless stream to a client that left
        still ends. It looks at most every POLL_INTERVAL seconds, a select() with no wait."""
        if not self.inline:
            return
        now = monotonic()
        if now - self._polled < POLL_INTERVAL:
            return
        self._polled = now
        if select.select((self.rfd,), (), (), 0)[0]:
            self.pump()

    def pump(self) -> None:
        """Inline mode: one blocking read, its frames routed; exits the process at EOF."""
        if self._out:
            # Never wait for Node while holding output it may be waiting for.
            self.flush()
        try:
            chunk = os.read(self.rfd, READ_SIZE)
        except OSError:
            chunk = b''
        if not chunk:
            _parent_gone()
        code = self._route(chunk)
        if code is not None:
            _exit_now(code)

    def _route(self, chunk):
        """Routes the frames in chunk; returns an exit code on a protocol error, else None."""
        requests = self.requests
        lock = self.lock
        REQUEST, BODY, BODY_END, ABORT, CREDIT = P.REQUEST, P.BODY, P.BODY_END, P.ABORT, P.CREDIT
        BODY_FILE = P.BODY_FILE
        u32 = P.decode_count
        try:
            frames = self._reader.push(chunk)
        except P.ProtocolError as e:
            return _protocol_exit(str(e))
        for ftype, fid, payload in frames:
            if ftype == REQUEST:
                state = self.state_class(self, fid, payload)
                requests[fid] = state
                if self.inline:
                    self._pending.append(state)
                else:
                    self.queue.put(state)
                continue
            state = requests.get(fid)
            if state is None:
                # The request already ended (e.g. the app returned without reading its
                # body): late frames for it are expected and dropped.
                if ftype not in (BODY, BODY_FILE, BODY_END, ABORT, CREDIT):
                    return _protocol_exit('unexpected frame type %d' % ftype)
                continue
            with lock:
                if ftype == BODY:
                    if payload:
                        state.chunks.append(payload)
                elif ftype == BODY_END:
                    state.body_done = True
                elif ftype == BODY_FILE:
                    state.body_file = payload
                elif ftype == ABORT:
                    state.aborted = True
                elif ftype == CREDIT:
                    try:
                        state.acked += u32(payload)
                    except P.ProtocolError as e:
                        return _protocol_exit(str(e))
                else:
                    return _protocol_exit('unexpected frame type %d' % ftype)
                w = state.waiter
                if w is not None:
                    w.notify()
        return None


def _protocol_exit(message):
    from .exitcodes import WORKER_BOOT
    sys.stderr.write('nodicorn worker: protocol error on fd 3: %s\n' % message)
    return WORKER_BOOT


# Set by a worker whose config defines worker_exit: runs once before the process exits on its own.
before_exit = None


def _exit_now(code):
    if before_exit is not None:
        before_exit()
    try:
        sys.stderr.flush()
    except Exception:
        pass
    os._exit(code)


def _parent_gone():
    # EOF or EPIPE on the pipe: the parent is gone, nothing this process does can reach anyone.
    _exit_now(0)


def log_exception(header: str) -> None:
    """Writes header and the exception being handled's traceback to stderr; never raises."""
    try:
        sys.stderr.write(header + '\n' + traceback.format_exc())
        sys.stderr.flush()
    except Exception:
        pass
