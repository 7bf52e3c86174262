"""The request runner in-process, with the pipe replaced by a recorder: counts the writes."""
import gc
import threading
import unittest

from nodicorn_worker import protocol as P
from nodicorn_worker import wsgi
from nodicorn_worker.workerconfig import WorkerConfig
from nodicorn_worker.body import Input
from nodicorn_worker.channel import Channel


def hello(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'Hello ', b'my friend!']


def gen(environ, start_response):
    start_response('200 OK', [])
    yield b'a'
    yield b''
    yield b'b'


class Recorder(Channel):
    def __init__(self, inline=False):
        Channel.__init__(self, None, None, wsgi.WsgiRequest, wsgi.WsgiRequest.__call__, inline=inline)
        self.writes = []

    def _write_all(self, data):
        self.writes.append(data)

    def _write_parts(self, parts):
        self.writes.append(b''.join(parts))

    def poll(self):
        pass  # no pipe to look at: nothing can arrive between two chunks


def run(app, environ=(('REQUEST_METHOD', 'GET'), ('PATH_INFO', '/')), corked=False, inline=False):
    wsgi.WsgiRequest.bind(WorkerConfig(app))
    channel = Recorder(inline)
    # corked: as inline with more requests of the batch waiting (Channel._serve_inline).
    channel.corked = corked
    payload = P.encode_request(7, 0, list(environ))[P.HEADER_SIZE:]
    state = wsgi.WsgiRequest(channel, 7, payload)
    state.cond = threading.Condition(channel.lock)
    state()
    return [[(t, bytes(p)) for t, _, p in P.FrameReader().push(w)] for w in channel.writes]


class LengthIterable:
    """What Flask and Django return: an iterable that is not a list, with a Content-Length."""

    def __init__(self, chunks):
        self.chunks = chunks

    def __iter__(self):
        return iter(self.chunks)


def flask_like(environ, start_response):
    start_response('200 OK', [('Content-Length', '5')])
    return LengthIterable([b'hel', b'lo'])


class Batching(unittest.TestCase):
    """Inline and corked, an answer waits for the batch's write; a stream never does."""

    def test_an_iterable_with_a_content_length_stays_in_the_batch(self):
        self.assertEqual(run(flask_like, corked=True), [])

    def test_a_stream_without_a_content_length_leaves_at_once(self):
        writes = run(gen, corked=True)
        self.assertEqual([t for t, _ in writes[0]], [P.RESPONSE_HEAD, P.RESPONSE_BODY])
        self.assertEqual(writes[0][1][1], b'a')

    def test_a_list_body_stays_in_the_batch(self):
        self.assertEqual(run(hello, corked=True), [])

    def test_the_last_answer_of_a_batch_leaves_with_its_end_in_one_write(self):
        # Inline, uncorked (no request of the batch left): body pieces and END in one write.
        writes = run(flask_like, inline=True)
        self.assertEqual([[t for t, _ in w] for w in writes], [[P.RESPONSE_HEAD, P.RESPONSE_BODY, P.RESPONSE_BODY, P.END]])

    def test_a_body_yielded_after_write_still_leaves_with_its_end(self):
        # write() lets what it sends go at once; the body yielded after it is held again.
        def writes_then_yields(environ, start_response):
            start_response('200 OK', [('Content-Length', '8')])(b'pre-')
            yield b'he'
            yield b'll'
        writes = run(writes_then_yields, inline=True)
        self.assertEqual([[t for t, _ in w] for w in writes],
                         [[P.RESPONSE_HEAD, P.RESPONSE_BODY], [P.RESPONSE_BODY, P.RESPONSE_BODY, P.END]])

    def test_with_app_threads_each_piece_still_leaves_as_it_comes(self):
        # Not inline: a thread may not hold the pipe's output while other threads write.
        writes = run(flask_like)
        self.assertEqual([[t for t, _ in w] for w in writes], [[P.RESPONSE_HEAD, P.RESPONSE_BODY], [P.RESPONSE_BODY], [P.END]])

    def test_a_failing_answer_is_not_left_corked(self):
        def fails(environ, start_response):
            start_response('200 OK', [('Content-Length', '4')])
            yield b'ab'
            raise ValueError('boom')
        writes = run(fails, inline=True)
        self.assertEqual([t for w in writes for t, _ in w][-1], P.ERROR)


class Writes(unittest.TestCase):
    def test_list_body_is_one_write(self):
        writes = run(hello)
        self.assertEqual(len(writes), 1)
        self.assertEqual([t for t, _ in writes[0]], [P.RESPONSE_HEAD, P.RESPONSE_BODY, P.END])
        self.assertEqual(writes[0][1][1], b'Hello my friend!')

    def test_generator_is_one_write_per_non_empty_chunk_then_end(self):
        writes = run(gen)
        self.assertEqual([[t for t, _ in w] for w in writes],
                         [[P.RESPONSE_HEAD, P.RESPONSE_BODY], [P.RESPONSE_BODY], [P.END]])

    def test_environ_from_the_pair_block(self):
        seen = {}

        def app(environ, start_response):
            seen.update(environ)
            start_response('200 OK', [])
            return []
        run(app, (('REQUEST_METHOD', 'POST'), ('PATH_INFO', '/caf\xe9'), ('EMPTY', '')))
        self.assertEqual((seen['REQUEST_METHOD'], seen['PATH_INFO'], seen['EMPTY']), ('POST', '/caf\xe9', ''))
        self.assertIs(type(seen['PATH_INFO']), str)


def echo(environ, start_response):
    body = environ['wsgi.input'].read()
    start_response('200 OK', [('Content-Length', str(len(body)))])
    return [body]


def echo_iterable(environ, start_response):
    body = environ['wsgi.input'].read()
    start_response('200 OK', [('Content-Length', str(len(body)))])
    return LengthIterable([body])


def echo_then_fail(environ, start_response):
    environ['wsgi.input'].read()
    raise ValueError('boom')


class NoCycles(unittest.TestCase):
    """A request's state, environ and wsgi.input are freed when it ends, by reference counting.

    A cycle among them would leave each request, its body bytes included, to the cyclic GC some
    hundred requests later: memory that is not reused while it is warm, and collections that
    cost the worker a tenth of its time on a 10 KB echo.
    """

    def leftovers(self, app):
        wsgi.WsgiRequest.bind(WorkerConfig(app))
        gc.collect()
        enabled = gc.isenabled()
        gc.disable()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            for fid in range(1, 4):
                payload = P.encode_request(fid, P.HAS_BODY, [
                    ('REQUEST_METHOD', 'POST'), ('PATH_INFO', '/'), ('CONTENT_LENGTH', '5')])[P.HEADER_SIZE:]
                channel = Recorder()
                state = wsgi.WsgiRequest(channel, fid, payload)
                state.chunks.append(b'hello')
                state.body_done = True
                state()
                frames = [f for w in channel.writes for f in P.FrameReader().push(w)]
                self.assertIn(frames[-1][0], (P.END, P.ERROR))
                del state, channel, frames
            gc.collect()
            return sorted(type(o).__name__ for o in gc.garbage
                          if isinstance(o, (wsgi.WsgiRequest, Input)) or (type(o) is dict and 'wsgi.input' in o))
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            if enabled:
                gc.enable()

    def test_a_list_answer(self):
        self.assertEqual(self.leftovers(echo), [])

    def test_an_iterable_answer(self):
        self.assertEqual(self.leftovers(echo_iterable), [])

    def test_an_app_that_raises(self):
        self.assertEqual(self.leftovers(echo_then_fail), [])


if __name__ == '__main__':
    unittest.main()
