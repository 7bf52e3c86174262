"""_make_environ: REQUEST payloads (either layout) into environ dicts."""
import unittest

from nodicorn_worker import protocol as P
from nodicorn_worker import wsgi
from nodicorn_worker.workerconfig import WorkerConfig


def payload(pairs, flags=0):
    (_, _, data), = P.FrameReader().push(P.encode_request(1, flags, pairs))
    return data


class MakeEnviron(unittest.TestCase):
    def setUp(self):
        wsgi.WsgiRequest.bind(WorkerConfig(lambda environ, start_response: []))
        self.base = wsgi.WsgiRequest.base_environ

    def test_pairs_over_the_shared_entries(self):
        env = wsgi._make_environ(payload([('REQUEST_METHOD', 'GET'), ('PATH_INFO', '/caf\xe9'), ('HTTP_X', '')]), self.base)
        self.assertEqual((env['REQUEST_METHOD'], env['PATH_INFO'], env['HTTP_X']), ('GET', '/caf\xe9', ''))
        self.assertEqual(env['wsgi.version'], (1, 0))
        self.assertEqual(env['SCRIPT_NAME'], '')

    def test_a_nul_in_a_value_comes_in_the_pair_block_layout(self):
        # %00 in a path is decoded to a NUL, which the text layout would take for a separator.
        data = payload([('REQUEST_METHOD', 'GET'), ('PATH_INFO', '/a\x00b'), ('HTTP_X', 'y')], flags=P.HAS_BODY)
        self.assertFalse(data[0] & P.TEXT_PAIRS)
        self.assertEqual(P.decode_request(data)[0], P.HAS_BODY)
        env = wsgi._make_environ(data, self.base)
        self.assertEqual((env['PATH_INFO'], env['HTTP_X']), ('/a\x00b', 'y'))

    def test_the_usual_layout_is_nul_joined_text(self):
        data = payload([('REQUEST_METHOD', 'GET'), ('PATH_INFO', '/'), ('HTTP_X', '')], flags=P.HAS_BODY)
        self.assertEqual(data[0], P.HAS_BODY | P.TEXT_PAIRS)
        self.assertEqual(data[3:], b'REQUEST_METHOD\x00GET\x00PATH_INFO\x00/\x00HTTP_X\x00')
        self.assertEqual(P.decode_request(data)[0], P.HAS_BODY)

    def test_lengths_that_do_not_match_the_payload_are_a_protocol_error(self):
        data = payload([('PATH_INFO', '/a\x00bc')])
        for bad in (data[:-1], data + b'x'):
            with self.assertRaises(P.ProtocolError):
                wsgi._make_environ(bad, self.base)

    def test_a_string_count_that_does_not_match_the_pair_count_is_a_protocol_error(self):
        data = payload([('PATH_INFO', '/abc'), ('HTTP_X', 'y')])
        for bad in (data + b'\x00', data[:3] + data[3:].replace(b'\x00', b'', 1), data[:3]):
            with self.assertRaises(P.ProtocolError):
                wsgi._make_environ(bad, self.base)

if __name__ == '__main__':
    unittest.main()
