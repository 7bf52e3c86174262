"""Test harness: runs `python -m nodicorn_worker` with a socketpair at fd 3, as Node does, and
speaks frames to it."""
import os
import socket
import subprocess
import sys
import time

from nodicorn_worker import protocol as P

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APPS_DIR = os.path.join(PYTHON_DIR, 'tests', 'apps')
NAMES = {v: k for k, v in P.FRAME_TYPES.items()}


class Frame:
    __slots__ = ('type', 'id', 'payload')

    def __init__(self, ftype, fid, payload):
        self.type = ftype
        self.id = fid
        self.payload = bytes(payload)

    @property
    def name(self):
        return NAMES.get(self.type, hex(self.type))

    def json(self):
        return P.decode_json(self.payload)

    def head(self):
        return P.decode_response_head(self.payload)

    def __repr__(self):
        return '<%s id=%d %r>' % (self.name, self.id, self.payload[:80])


class Worker:
    def __init__(self, app, threads=1, extra=(), cwd=None, env=None):
        self.sock, child = socket.socketpair()
        cfd = child.fileno()
        e = dict(os.environ)
        e['PYTHONPATH'] = PYTHON_DIR + os.pathsep + e.get('PYTHONPATH', '')
        e['PYTHONUNBUFFERED'] = '1'
        if env:
            e.update(env)
        argv = [sys.executable, '-m', 'nodicorn_worker', '--app', app, '--threads', str(threads)]
        argv += list(extra)
        self.proc = subprocess.Popen(
            argv, cwd=cwd or APPS_DIR, env=e, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, close_fds=False,
            # Python fds are not inheritable (PEP 446): only the dup2 result, fd 3, is passed.
            # dup first: if the socket already is fd 3, dup2(3, 3) would leave it non-inheritable.
            preexec_fn=lambda: os.dup2(os.dup(cfd), 3))
        child.close()
        self.reader = P.FrameReader()
        self.pending = []
        self.sock.settimeout(10)

    # -- talking ---------------------------------------------------------------------------

    def send(self, data):
        self.sock.sendall(data)

    def request(self, fid, environ, flags=0, body=None):
        env = {'REQUEST_METHOD': 'GET', 'SCRIPT_NAME': '', 'PATH_INFO': '/', 'QUERY_STRING': '',
               'SERVER_NAME': 'localhost', 'SERVER_PORT': '8051', 'SERVER_PROTOCOL': 'HTTP/1.1',
               'REMOTE_ADDR': '127.0.0.1', 'REMOTE_PORT': '5555', 'wsgi.url_scheme': 'http'}
        env.update(environ)
        if body is not None:
            flags |= P.HAS_BODY
            if not flags & P.CHUNKED:
                env.setdefault('CONTENT_LENGTH', str(len(body)))
        data = P.encode_request(fid, flags, list(env.items()))
        if body is not None and not flags & P.EXPECT_CONTINUE:
            if body:
                data += P.encode_frame(P.BODY, fid, body)
            data += P.encode_frame(P.BODY_END, fid)
        self.send(data)

    def frame(self, timeout=10):
        """The next frame, or raises socket.timeout."""
        deadline = time.monotonic() + timeout
        while not self.pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout('no frame within %ss' % timeout)
            self.sock.settimeout(left)
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EOFError('worker closed the pipe; stderr: %s' % self.stderr_text())
            self.pending.extend(Frame(*f) for f in self.reader.push(chunk))
        return self.pending.pop(0)

    def no_frame(self, wait=0.3):
        """True if nothing arrives within `wait` seconds."""
        try:
            f = self.frame(timeout=wait)
        except socket.timeout:
            return True
        self.pending.insert(0, f)
        return False

    def ready(self):
        f = self.frame()
        assert f.type == P.READY, 'expected READY, got %r; stderr: %s' % (f, self.stderr_text())
        return f.json()

    def until_end(self, fid, timeout=10):
        """Frames for fid up to and including END or ERROR."""
        frames = []
        while True:
            f = self.frame(timeout)
            assert f.id == fid, 'frame for another request: %r' % (f,)
            frames.append(f)
            if f.type in (P.END, P.ERROR):
                return frames

    def response(self, fid, timeout=10):
        """(status, reason, headers, body, last frame)."""
        frames = self.until_end(fid, timeout)
        head = None
        body = []
        for f in frames:
            if f.type == P.RESPONSE_HEAD:
                head = f.head()
            elif f.type == P.RESPONSE_BODY:
                body.append(f.payload)
        status, reason, headers = head if head else (None, None, None)
        return status, reason, headers, b''.join(body), frames[-1]

    # -- ending ----------------------------------------------------------------------------

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._out = self.proc.stdout.read().decode('utf-8', 'replace')
        self._err = self.proc.stderr.read().decode('utf-8', 'replace')
        self.proc.stdout.close()
        self.proc.stderr.close()
        return self.proc.returncode

    def stderr_text(self):
        if hasattr(self, '_err'):
            return self._err
        return '(still running)'

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.returncode is None:
            self.close()
