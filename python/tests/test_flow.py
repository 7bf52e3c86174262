"""Flow control both ways, 100-continue, aborts, and threads sharing the pipe."""
import json
import os
import socket
import tempfile
import time
import unittest

from nodicorn_worker import protocol as P

from .base import WorkerTestCase

MiB = 1024 * 1024


class ResponseFlow(WorkerTestCase):
    def test_blocks_at_window_until_credit(self):
        size = 3 * MiB
        fid = self.get('/big', {'size': str(size), 'chunk': str(256 * 1024)})
        got = 0
        credited = 0
        while True:
            try:
                f = self.worker.frame(timeout=0.5)
            except socket.timeout:
                # Stalled: exactly WINDOW unacknowledged bytes are out.
                self.assertEqual(got - credited, P.WINDOW)
                self.worker.send(P.encode_count(P.CREDIT, fid, P.ACK_UNIT))
                credited += P.ACK_UNIT
                continue
            if f.type == P.RESPONSE_BODY:
                got += len(f.payload)
                self.assertLessEqual(got - credited, P.WINDOW)
            elif f.type == P.END:
                break
        self.assertEqual(got, size)
        self.assertGreaterEqual(credited, size - P.WINDOW)

    def test_abort_while_waiting_for_credit(self):
        marker = self.marker()
        fid = self.get('/closing', {'marker': marker, 'delay': '0'})
        # Unbounded generator: it fills the window, then waits for credit that never comes.
        got = 0
        while got < P.WINDOW:
            f = self.worker.frame()
            if f.type == P.RESPONSE_BODY:
                got += len(f.payload)
        self.assertTrue(self.worker.no_frame(0.3))
        self.worker.send(P.encode_frame(P.ABORT, fid))
        self.assertEqual(self.worker.frame().type, P.END)
        self.assertEqual(self.read_marker(marker)[-1], 'closed')


class RequestFlow(WorkerTestCase):
    def test_credit_as_the_app_consumes(self):
        # Behave like Node: never more than WINDOW unacknowledged body bytes in flight.
        size = 5 * MiB + 123
        fid = self.get('/echo', environ={'CONTENT_LENGTH': str(size)}, flags=P.HAS_BODY)
        body = bytes(range(256)) * (size // 256) + b'x' * (size % 256)
        sent = 0
        acked = 0
        credits = []
        while sent < size:
            while sent < size and sent - acked < P.WINDOW:
                n = min(64 * 1024, size - sent, P.WINDOW - (sent - acked))
                self.worker.send(P.encode_frame(P.BODY, fid, body[sent:sent + n]))
                sent += n
            f = self.worker.frame()
            self.assertEqual(f.type, P.BODY_CREDIT, f)
            n = P.decode_count(f.payload)
            self.assertGreaterEqual(n, P.ACK_UNIT)
            credits.append(n)
            acked += n
        self.worker.send(P.encode_frame(P.BODY_END, fid))
        frames = self.worker.until_end(fid)
        out = [f for f in frames if f.type == P.RESPONSE_BODY]
        self.assertEqual(json.loads(out[0].payload)['size'], size)
        self.assertTrue(all(f.type in (P.BODY_CREDIT, P.RESPONSE_HEAD, P.RESPONSE_BODY, P.END) for f in frames))

    def test_small_body_costs_no_credit_frames(self):
        fid = self.get('/echo', body=b'x' * 1000)
        self.assertEqual([f.type for f in self.worker.until_end(fid)], [P.RESPONSE_HEAD, P.RESPONSE_BODY, P.END])

    def test_abort_while_app_waits_for_body(self):
        fid = self.get('/echo', environ={'CONTENT_LENGTH': '100'}, flags=P.HAS_BODY)
        self.worker.send(P.encode_frame(P.BODY, fid, b'x' * 10))
        self.assertTrue(self.worker.no_frame(0.2))
        self.worker.send(P.encode_frame(P.ABORT, fid))
        # The app saw OSError('client disconnected'); a request the client left ends with END.
        self.assertEqual([f.type for f in self.worker.until_end(fid)], [P.END])

    def test_late_frames_for_a_finished_request_are_ignored(self):
        fid = self.get('/write')
        self.worker.until_end(fid)
        self.worker.send(P.encode_frame(P.BODY, fid, b'late') + P.encode_frame(P.ABORT, fid)
                         + P.encode_count(P.CREDIT, fid, 5))
        status, _, _, body, _ = self.call('/write')
        self.assertEqual(body, b'one,two,three')


class Continue(WorkerTestCase):
    def test_continue_only_when_the_app_reads(self):
        fid = self.get('/echo', environ={'CONTENT_LENGTH': '5'}, flags=P.HAS_BODY | P.EXPECT_CONTINUE)
        f = self.worker.frame()
        self.assertEqual((f.type, f.id), (P.CONTINUE, fid))
        self.worker.send(P.encode_frame(P.BODY, fid, b'hello') + P.encode_frame(P.BODY_END, fid))
        status, _, _, body, last = self.worker.response(fid)
        self.assertEqual(json.loads(body)['size'], 5)

    def test_no_continue_when_the_app_ignores_the_body(self):
        fid = self.get('/write', environ={'CONTENT_LENGTH': '5'}, flags=P.HAS_BODY | P.EXPECT_CONTINUE)
        frames = self.worker.until_end(fid)
        self.assertNotIn(P.CONTINUE, [f.type for f in frames])

    def test_continue_sent_once(self):
        fid = self.get('/input', {'mode': 'read_n'}, environ={'CONTENT_LENGTH': '7'},
                       flags=P.HAS_BODY | P.EXPECT_CONTINUE)
        self.assertEqual(self.worker.frame().type, P.CONTINUE)
        for b in (b'ab', b'cde', b'fg'):
            self.worker.send(P.encode_frame(P.BODY, fid, b))
            time.sleep(0.05)
        self.worker.send(P.encode_frame(P.BODY_END, fid))
        frames = self.worker.until_end(fid)
        self.assertNotIn(P.CONTINUE, [f.type for f in frames])
        self.assertEqual(''.join(json.loads(frames[1].payload)['parts']), 'abcdefg')


class Threads(WorkerTestCase):
    threads = 3

    def test_multithread_flag(self):
        self.assertEqual(self.info['threads'], 3)
        _, _, _, body, _ = self.call('/environ')
        self.assertIs(json.loads(body)['wsgi.multithread'], True)

    def test_requests_interleave_on_one_pipe(self):
        slow = self.get('/echo', environ={'CONTENT_LENGTH': '4'}, flags=P.HAS_BODY)
        stream = self.get('/stream', environ={'CONTENT_LENGTH': '1'}, flags=P.HAS_BODY)
        # Both wait for their bodies; a third request is served meanwhile.
        fast = self.get('/write')
        seen = {}
        while seen.get(fast, [None])[-1] != P.END or len(seen.get(stream, ())) < 2:
            f = self.worker.frame()
            seen.setdefault(f.id, []).append(f.type)
        self.assertEqual(seen[stream], [P.RESPONSE_HEAD, P.RESPONSE_BODY])
        self.assertNotIn(slow, seen)
        self.worker.send(P.encode_frame(P.BODY, slow, b'abcd') + P.encode_frame(P.BODY_END, slow)
                         + P.encode_frame(P.BODY, stream, b'z') + P.encode_frame(P.BODY_END, stream))
        ends = set()
        while len(ends) < 2:
            f = self.worker.frame()
            if f.type == P.END:
                ends.add(f.id)
        self.assertEqual(ends, {slow, stream})

    def test_many_concurrent(self):
        ids = [self.new_id() for _ in range(40)]
        self.worker.send(b''.join(P.encode_request(i, 0, [('REQUEST_METHOD', 'GET'), ('PATH_INFO', '/write')])
                                  for i in ids))
        parts = {}
        bodies = {}
        while len(bodies) < len(ids):
            f = self.worker.frame()
            if f.type == P.RESPONSE_BODY:
                parts.setdefault(f.id, []).append(f.payload)
            elif f.type == P.END:
                bodies[f.id] = b''.join(parts.get(f.id, []))
        self.assertEqual(sorted(bodies), sorted(ids))
        self.assertEqual(set(bodies.values()), {b'one,two,three'})


@unittest.skipUnless(os.path.isdir('/proc/self/fd'), 'BODY_FILE needs /proc/<pid>/fd (Linux)')
class BodyFile(WorkerTestCase):
    """The rest of a spooled body as Node's temp file: the worker opens it through /proc."""

    def spool(self, data):
        """An unlinked temp file holding data, open in this process (as Node's spool is)."""
        fd, path = tempfile.mkstemp(prefix='nodicorn-test-spool-')
        os.unlink(path)
        self.addCleanup(os.close, fd)
        os.write(fd, data)
        st = os.fstat(fd)
        return '/proc/%d/fd/%d' % (os.getpid(), fd), st.st_dev, st.st_ino

    def send_body(self, path, memory, file_data, offset=0, length=None, identity=None):
        """Sends `memory` as BODY frames, then BODY_FILE for file_data[offset:offset+length]."""
        path_, dev, ino = self.spool(file_data)
        if length is None:
            length = len(file_data) - offset
        dev, ino = identity or (dev, ino)
        size = len(memory) + length
        fid = self.get(path[0], path[1], environ={'CONTENT_LENGTH': str(size)}, flags=P.HAS_BODY)
        if memory:
            self.worker.send(P.encode_frame(P.BODY, fid, memory))
        self.worker.send(P.encode_body_file(fid, path_, offset, length, dev, ino)
                         + P.encode_frame(P.BODY_END, fid))
        return fid

    def test_ready_says_the_worker_opens_body_files(self):
        self.assertIs(self.info['body_files'], True)

    def test_memory_then_file_range_in_every_read_form(self):
        # Bytes outside [offset, offset + length) must never reach the app.
        memory = b'mem-line-1\nmem-'
        file_data = b'JUNK' + b'file-line-2\nfile line 3\nlast' + b'TAIL'
        expected = (memory + file_data[4:-4]).decode('latin-1')
        for mode in ('read', 'read_n', 'readline', 'readline_n', 'readlines', 'iter'):
            with self.subTest(mode):
                fid = self.send_body(('/input', {'mode': mode}), memory, file_data, offset=4, length=len(file_data) - 8)
                status, _, _, body, _ = self.worker.response(fid)
                self.assertEqual(status, 200, body)
                self.assertEqual(''.join(json.loads(body)['parts']), expected)

    def test_file_bytes_earn_no_credit(self):
        memory = b'm' * 1000
        file_data = bytes(range(256)) * (3 * MiB // 256)
        fid = self.send_body(('/echo', None), memory, file_data)
        frames = self.worker.until_end(fid)
        self.assertEqual([f.type for f in frames], [P.RESPONSE_HEAD, P.RESPONSE_BODY, P.END])
        data = memory + file_data
        self.assertEqual(json.loads(frames[1].payload),
                         {'size': len(data), 'sum': sum(data[::4096]) & 0xffffffff})

    def test_a_path_that_names_another_file_is_refused(self):
        fid = self.send_body(('/echo', None), b'', b'x' * 100, identity=(1, 1))
        frames = self.worker.until_end(fid)
        self.assertEqual(frames[-1].type, P.ERROR)
        self.assertIn('no longer the spooled request body', frames[-1].json()['message'])

    def test_a_file_that_cannot_be_opened_is_an_error_not_a_hang(self):
        fid = self.get('/echo', environ={'CONTENT_LENGTH': '10'}, flags=P.HAS_BODY)
        self.worker.send(P.encode_body_file(fid, '/proc/%d/fd/99999' % os.getpid(), 0, 10, 1, 1)
                         + P.encode_frame(P.BODY_END, fid))
        frames = self.worker.until_end(fid)
        self.assertEqual(frames[-1].type, P.ERROR)
        self.assertIn('cannot open the spooled request body', frames[-1].json()['message'])

    def test_a_file_shorter_than_announced_is_an_error(self):
        fid = self.send_body(('/echo', None), b'', b'x' * 100, length=200)
        frames = self.worker.until_end(fid)
        self.assertEqual(frames[-1].type, P.ERROR)
        self.assertIn('ended 100 bytes early', frames[-1].json()['message'])
