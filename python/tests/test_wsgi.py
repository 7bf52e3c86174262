"""The worker end to end: frames in, WSGI app, frames out."""
import json
import os

from nodicorn_worker import protocol as P

from .base import WorkerTestCase


class Hello(WorkerTestCase):
    app = 'hello'

    def test_ready_handshake(self):
        self.assertEqual(self.info['threads'], 1)
        self.assertEqual(self.info['pid'], self.worker.proc.pid)
        self.assertRegex(self.info['python'], r'^3\.\d+\.\d+')

    def test_hello(self):
        status, reason, headers, body, last = self.call('/')
        self.assertEqual((status, reason), (200, 'OK'))
        self.assertEqual(headers, [('Content-type', 'text/plain')])
        self.assertEqual(body, b'Hello my friend!')
        self.assertEqual(last.type, P.END)

    def test_list_response_is_head_body_end(self):
        fid = self.get('/')
        frames = self.worker.until_end(fid)
        self.assertEqual([f.type for f in frames], [P.RESPONSE_HEAD, P.RESPONSE_BODY, P.END])

    def test_many_requests_in_one_write(self):
        ids = [self.new_id() for _ in range(50)]
        data = b''.join(P.encode_request(i, 0, [('REQUEST_METHOD', 'GET'), ('PATH_INFO', '/')]) for i in ids)
        self.worker.send(data)
        for i in ids:
            self.assertEqual(self.worker.response(i)[3], b'Hello my friend!')

    def test_head_request_sends_no_body(self):
        fid = self.get('/', environ={'REQUEST_METHOD': 'HEAD'})
        frames = self.worker.until_end(fid)
        self.assertEqual([f.type for f in frames], [P.RESPONSE_HEAD, P.END])


class Validated(WorkerTestCase):
    """Apps wrapped in wsgiref.validate.validator: the server's side of PEP 3333."""
    app = 'validated'

    def test_hello(self):
        status, _, _, body, last = self.call('/')
        self.assertEqual((status, body, last.type), (200, b'Hello my friend!', P.END), last.payload)

    def test_post(self):
        status, _, _, body, last = self.call('/post', body=b'abc' * 1000)
        self.assertEqual((status, body, last.type), (200, b'abc' * 1000, P.END), last.payload)

    def test_generator(self):
        status, _, _, body, last = self.call('/gen')
        self.assertEqual((body, last.type), (b'chunk0chunk1chunk2', P.END), last.payload)


class Environ(WorkerTestCase):
    extra = ('--multiprocess', '1')

    def environ(self, **kw):
        status, _, _, body, last = self.call('/environ', **kw)
        self.assertEqual(last.type, P.END, last.payload)
        return json.loads(body)

    def test_completion(self):
        env = self.environ(environ={'HTTP_HOST': 'example.com', 'RAW_URI': '/environ?x'})
        self.assertEqual(env['wsgi.version'], [1, 0])
        self.assertIs(env['wsgi.multithread'], False)
        self.assertIs(env['wsgi.multiprocess'], True)
        self.assertIs(env['wsgi.run_once'], False)
        self.assertEqual(env['wsgi.url_scheme'], 'http')
        self.assertTrue(env['errors_is_stderr'])
        self.assertTrue(env['has_file_wrapper'])
        self.assertEqual(env['dict_type'], 'dict')
        self.assertNotIn('wsgi.input_terminated', env)
        self.assertEqual(env['HTTP_HOST'], 'example.com')
        self.assertEqual(env['RAW_URI'], '/environ?x')
        self.assertEqual(env['REQUEST_METHOD'], 'GET')
        self.assertEqual(env['SERVER_PORT'], '8051')

    def test_node_values_win(self):
        env = self.environ(environ={'wsgi.url_scheme': 'https', 'SCRIPT_NAME': '/app'})
        self.assertEqual(env['wsgi.url_scheme'], 'https')
        self.assertEqual(env['SCRIPT_NAME'], '/app')

    def test_chunked_sets_input_terminated(self):
        env = self.environ(body=b'', flags=P.CHUNKED)
        self.assertIs(env['wsgi.input_terminated'], True)
        self.assertNotIn('CONTENT_LENGTH', env)

    def test_latin1_path_round_trips(self):
        path = '/latin1/\xc3\xa9 caf\xe9\xff'
        status, _, _, body, _ = self.call(path)
        self.assertEqual(body, path.encode('latin-1'))


class Input(WorkerTestCase):
    BODY = b'line one\nline two\n\nlast line without newline'

    def input(self, mode, body=None, **kw):
        status, _, _, out, last = self.call('/input', {'mode': mode}, body=self.BODY if body is None else body, **kw)
        self.assertEqual(last.type, P.END, last.payload)
        return json.loads(out)

    def parts(self, mode, **kw):
        return [p.encode('latin-1') for p in self.input(mode, **kw)['parts']]

    def test_read_all(self):
        for mode in ('read', 'read_none', 'read_minus'):
            with self.subTest(mode):
                self.assertEqual(self.parts(mode), [self.BODY])

    def test_read_n(self):
        parts = self.parts('read_n')
        self.assertEqual(b''.join(parts), self.BODY)
        self.assertTrue(all(len(p) == 3 for p in parts[:-2]))
        self.assertEqual(parts[-1], b'')

    def test_readline(self):
        self.assertEqual(self.parts('readline'), self.BODY.splitlines(True) + [b''])

    def test_readline_with_size(self):
        self.assertEqual(self.parts('readline_n'), [b'li', b'ne one\n', b'', self.BODY[9:]])

    def test_readlines(self):
        self.assertEqual(self.parts('readlines'), self.BODY.splitlines(True))
        self.assertEqual(self.parts('readlines_hint'), [b'line one\n'])

    def test_iteration(self):
        self.assertEqual(self.parts('iter'), self.BODY.splitlines(True))

    def test_never_past_content_length(self):
        # Node would never send more than CONTENT_LENGTH; even if it did, the app must not see it.
        for mode in ('read', 'read_n', 'readline', 'iter'):
            with self.subTest(mode):
                parts = self.parts(mode, environ={'CONTENT_LENGTH': '12'})
                self.assertEqual(b''.join(parts), self.BODY[:12])

    def test_lines_across_body_frames(self):
        fid = self.new_id()
        env = {'PATH_INFO': '/input', 'QUERY_STRING': 'mode=readline', 'CONTENT_LENGTH': str(len(self.BODY))}
        self.worker.request(fid, env, flags=P.HAS_BODY)
        data = b''.join(P.encode_frame(P.BODY, fid, self.BODY[i:i + 1]) for i in range(len(self.BODY)))
        self.worker.send(data + P.encode_frame(P.BODY_END, fid))
        _, _, _, out, _ = self.worker.response(fid)
        self.assertEqual(json.loads(out)['parts'], [p.decode() for p in self.BODY.splitlines(True)] + [''])

    def test_chunked_reads_to_body_end(self):
        fid = self.new_id()
        self.worker.request(fid, {'PATH_INFO': '/input', 'QUERY_STRING': 'mode=read'}, flags=P.HAS_BODY | P.CHUNKED)
        self.worker.send(P.encode_frame(P.BODY, fid, b'abc') + P.encode_frame(P.BODY, fid, b'def'))
        self.assertTrue(self.worker.no_frame(0.2))
        self.worker.send(P.encode_frame(P.BODY, fid, b'ghi') + P.encode_frame(P.BODY_END, fid))
        _, _, _, out, _ = self.worker.response(fid)
        self.assertEqual(json.loads(out), {'parts': ['abcdefghi'], 'terminated': True})

    def test_no_body(self):
        status, _, _, out, _ = self.call('/input', {'mode': 'read'})
        self.assertEqual(json.loads(out)['parts'], [''])


class Response(WorkerTestCase):
    def test_write(self):
        fid = self.get('/write')
        frames = self.worker.until_end(fid)
        self.assertEqual([f.type for f in frames],
                         [P.RESPONSE_HEAD, P.RESPONSE_BODY, P.RESPONSE_BODY, P.RESPONSE_BODY, P.END])
        self.assertEqual(b''.join(f.payload for f in frames[1:4]), b'one,two,three')

    def test_second_start_response_without_exc_info_fails(self):
        status, _, _, _, last = self.call('/twice')
        self.assertEqual(last.type, P.ERROR)
        self.assertEqual(last.json()['type'], 'RuntimeError')
        self.assertIsNone(status)

    def test_exc_info_before_head_replaces_it(self):
        status, reason, headers, body, last = self.call('/exc_before')
        self.assertEqual((status, reason, headers, body, last.type),
                         (500, 'Internal Server Error', [('X-Replaced', '1')], b'replaced', P.END))

    def test_exc_info_after_head_reraises(self):
        status, _, _, body, last = self.call('/exc_after')
        self.assertEqual((status, body), (200, b'already out'))
        self.assertEqual(last.type, P.ERROR)
        error = last.json()
        self.assertEqual((error['type'], error['message']), ('KeyError', "'late'"))

    def test_generator_streams_each_chunk(self):
        fid = self.new_id()
        self.worker.request(fid, {'PATH_INFO': '/stream', 'CONTENT_LENGTH': '4'}, flags=P.HAS_BODY)
        head = self.worker.frame()
        first = self.worker.frame()
        self.assertEqual((head.type, first.type, first.payload), (P.RESPONSE_HEAD, P.RESPONSE_BODY, b'first'))
        self.assertTrue(self.worker.no_frame(0.2))  # the generator waits for the body
        self.worker.send(P.encode_frame(P.BODY, fid, b'body') + P.encode_frame(P.BODY_END, fid))
        second = self.worker.frame()
        self.assertEqual(second.payload, b'second:body')
        self.assertEqual(self.worker.frame().type, P.END)

    def test_close_called_before_end(self):
        marker = self.marker()
        status, _, _, body, last = self.call('/closing', {'marker': marker, 'count': '3', 'delay': '0'})
        self.assertEqual(last.type, P.END)
        self.assertEqual(body, b'chunk 0;chunk 1;chunk 2;')
        self.assertEqual(self.read_marker(marker), ['chunk 0', 'chunk 1', 'chunk 2', 'closed'])

    def test_close_called_after_abort(self):
        marker = self.marker()
        fid = self.get('/closing', {'marker': marker})
        self.assertEqual(self.worker.frame().type, P.RESPONSE_HEAD)
        self.assertEqual(self.worker.frame().type, P.RESPONSE_BODY)
        self.worker.send(P.encode_frame(P.ABORT, fid))
        while True:
            f = self.worker.frame()
            if f.type != P.RESPONSE_BODY:
                break
        self.assertEqual(f.type, P.END)
        lines = self.read_marker(marker)
        self.assertEqual(lines[-1], 'closed')  # close() ran before END went out

    def test_close_called_when_iteration_raises(self):
        marker = self.marker()
        _, _, _, body, last = self.call('/closing', {'marker': marker, 'fail_at': '2', 'delay': '0'})
        self.assertEqual(last.type, P.ERROR)
        self.assertEqual(last.json()['type'], 'ValueError')
        self.assertEqual(self.read_marker(marker)[-1], 'closed')

    def test_close_raising_still_ends(self):
        marker = self.marker()
        _, _, _, body, last = self.call('/closing', {'marker': marker, 'count': '1', 'delay': '0', 'fail_close': '1'})
        self.assertEqual((body, last.type), (b'chunk 0;', P.END))

    def test_head_iterates_but_sends_no_body(self):
        marker = self.marker()
        fid = self.get('/closing', {'marker': marker, 'count': '2', 'delay': '0'}, environ={'REQUEST_METHOD': 'HEAD'})
        frames = self.worker.until_end(fid)
        self.assertEqual([f.type for f in frames], [P.RESPONSE_HEAD, P.END])
        self.assertEqual(self.read_marker(marker), ['chunk 0', 'chunk 1', 'closed'])

    def test_empty_body_sends_head_at_end(self):
        fid = self.get('/empty')
        frames = self.worker.until_end(fid)
        self.assertEqual([f.type for f in frames], [P.RESPONSE_HEAD, P.END])
        self.assertEqual(frames[0].head()[:2], (204, 'No Content'))

    def test_big_chunk_split_into_1mib_frames(self):
        size = 2 * 1024 * 1024 + 5
        fid = self.get('/big', {'size': str(size), 'chunk': str(size), 'list': '1'})
        sizes = []
        unacked = 0
        while True:
            f = self.worker.frame()
            if f.type == P.RESPONSE_BODY:
                sizes.append(len(f.payload))
                unacked += len(f.payload)
                if unacked >= P.WINDOW:
                    self.worker.send(P.encode_count(P.CREDIT, fid, unacked))
                    unacked = 0
            elif f.type == P.END:
                break
        self.assertEqual(sum(sizes), size)
        self.assertEqual(max(sizes), 1024 * 1024)


class Headers(WorkerTestCase):
    def test_hop_by_hop_dropped_connection_close_kept(self):
        status, _, headers, body, _ = self.call('/headers')
        self.assertEqual(headers, [('Content-Type', 'text/plain'), ('Connection', 'close'),
                                   ('X-Latin', 'caf\xe9'), ('Set-Cookie', 'a=1'), ('Set-Cookie', 'b=2')])

    def test_invalid_heads_raise_into_the_app(self):
        expected = {'crlf': 'ValueError', 'nul': 'ValueError', 'name': 'ValueError', 'nonlatin': 'ValueError',
                    'bytes': 'TypeError', 'notuple': 'TypeError', 'status_int': 'TypeError',
                    'status_short': 'ValueError', 'status_letters': 'ValueError', 'status_crlf': 'ValueError',
                    'dict': 'TypeError'}
        for kind, error in expected.items():
            with self.subTest(kind):
                status, _, headers, body, _ = self.call('/badheader', {'kind': kind})
                self.assertEqual((status, headers), (400, [('X-Error', error)]), body)


class Files(WorkerTestCase):
    DATA = b'0123456789abcdefghij'

    def test_file_frame_for_a_regular_file(self):
        path = self.tempfile(self.DATA)
        marker = self.marker()
        fid = self.get('/file', {'path': path, 'offset': '5', 'marker': marker})
        frames = self.worker.until_end(fid)
        self.assertEqual([f.type for f in frames], [P.RESPONSE_HEAD, P.FILE, P.END])
        self.assertEqual(P.decode_file(frames[1].payload), (os.path.abspath(path), 5, len(self.DATA) - 5))
        self.assertEqual(self.read_marker(marker), ['closed'])

    def test_file_length_bounded_by_content_length(self):
        path = self.tempfile(self.DATA)
        fid = self.get('/file', {'path': path, 'offset': '2', 'cl': '3'})
        frames = self.worker.until_end(fid)
        self.assertEqual(P.decode_file(frames[1].payload), (os.path.abspath(path), 2, 3))

    def test_head_sends_no_file(self):
        path = self.tempfile(self.DATA)
        fid = self.get('/file', {'path': path}, environ={'REQUEST_METHOD': 'HEAD'})
        self.assertEqual([f.type for f in self.worker.until_end(fid)], [P.RESPONSE_HEAD, P.END])

    def test_file_deleted_on_close_is_streamed(self):
        fid = self.get('/tempfile')
        frames = self.worker.until_end(fid)
        self.assertEqual([f.type for f in frames], [P.RESPONSE_HEAD, P.RESPONSE_BODY, P.END])
        self.assertEqual(frames[1].payload, b'temporary')

    def test_filelike_without_a_file_is_iterated(self):
        fid = self.get('/filelike')
        frames = self.worker.until_end(fid)
        self.assertEqual([f.payload for f in frames if f.type == P.RESPONSE_BODY], [b'abcd', b'efgh', b'ij'])


class Errors(WorkerTestCase):
    def test_exception_in_call_then_worker_keeps_serving(self):
        status, _, _, _, last = self.call('/raise')
        self.assertIsNone(status)
        error = last.json()
        self.assertEqual(last.type, P.ERROR)
        self.assertEqual((error['type'], error['message']), ('ZeroDivisionError', 'division by zero'))
        self.assertIn('Traceback', error['traceback'])
        self.assertIn('raise ZeroDivisionError', error['traceback'])
        status, _, _, body, last = self.call('/write')
        self.assertEqual((status, body, last.type), (200, b'one,two,three', P.END))

    def test_exception_during_iteration_after_head(self):
        fid = self.get('/raise_iter')
        frames = self.worker.until_end(fid)
        self.assertEqual([f.type for f in frames], [P.RESPONSE_HEAD, P.RESPONSE_BODY, P.ERROR])
        self.assertEqual(frames[-1].json()['message'], 'broken generator')

    def test_no_start_response(self):
        _, _, _, _, last = self.call('/nostart')
        self.assertEqual(last.type, P.ERROR)
        self.assertIn('start_response', last.json()['message'])

    def test_str_chunk(self):
        _, _, _, _, last = self.call('/notbytes')
        self.assertEqual((last.type, last.json()['type']), (P.ERROR, 'TypeError'))

    def test_traceback_not_printed_twice(self):
        # The traceback travels in the ERROR frame and Node logs it with the request line; the
        # worker printing it too would put every app error twice in the error log.
        self.call('/raise')

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        assert 'ZeroDivisionError' not in cls.worker.stderr_text(), cls.worker.stderr_text()


if __name__ == '__main__':
    import unittest
    unittest.main()
