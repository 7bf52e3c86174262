"""_make_environ: REQUEST pair blocks into environ dicts."""
import unittest

from nodicorn_worker import protocol as P
from nodicorn_worker import wsgi


def payload(pairs, flags=0):
    (_, _, data), = P.FrameReader().push(P.encode_request(1, flags, pairs))
    return data


class MakeEnviron(unittest.TestCase):
    def setUp(self):
        wsgi.configure(lambda environ, start_response: [], 1, False)

    def test_pairs_over_the_shared_entries(self):
        env = wsgi._make_environ(payload([('REQUEST_METHOD', 'GET'), ('PATH_INFO', '/caf\xe9'), ('HTTP_X', '')]))
        self.assertEqual((env['REQUEST_METHOD'], env['PATH_INFO'], env['HTTP_X']), ('GET', '/caf\xe9', ''))
        self.assertEqual(env['wsgi.version'], (1, 0))
        self.assertEqual(env['SCRIPT_NAME'], '')

    def test_lengths_that_do_not_match_the_payload_are_a_protocol_error(self):
        data = payload([('PATH_INFO', '/abc')])
        for bad in (data[:-1], data + b'x'):
            with self.assertRaises(P.ProtocolError):
                wsgi._make_environ(bad)


if __name__ == '__main__':
    unittest.main()
