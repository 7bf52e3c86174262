"""encode_head: the whole-head cache gives the same frames as a fresh encode, and never lets an
invalid head through."""
import unittest

from nodicorn_worker import headers as H
from nodicorn_worker import protocol as P


class HeadCache(unittest.TestCase):
    def setUp(self):
        H._heads.clear()

    def test_a_cached_head_is_the_same_frame_under_each_request_id(self):
        headers = [('Content-Type', 'text/plain'), ('Content-Length', '16')]
        first = H.encode_head(1, '200 OK', headers)
        self.assertEqual(len(H._heads), 1)
        for fid in (1, 2, 70000):
            frame = H.encode_head(fid, '200 OK', list(headers))
            self.assertEqual(frame, H._encode_head(fid, '200 OK', headers))
            (ftype, got_id, payload), = P.FrameReader().push(frame)
            self.assertEqual((ftype, got_id), (P.RESPONSE_HEAD, fid))
            self.assertEqual(P.decode_response_head(payload), (200, 'OK', headers))
        self.assertEqual(first, H._encode_head(1, '200 OK', headers))

    def test_a_cached_hop_by_hop_drop_stays_dropped(self):
        headers = [('Keep-Alive', 'timeout=5'), ('X-A', 'b')]
        for fid in (3, 4):
            (_, _, payload), = P.FrameReader().push(H.encode_head(fid, '200 OK', headers))
            self.assertEqual(P.decode_response_head(payload), (200, 'OK', [('X-A', 'b')]))

    def test_invalid_heads_raise_every_time_even_next_to_a_cached_valid_one(self):
        H.encode_head(1, '200 OK', [('X-A', 'b')])
        bad = [
            ('200 OK', [('X-A', 'b\r\nX-Evil: 1')], ValueError),
            ('200 OK', [('X-A', b'b')], TypeError),
            ('200 OK', [('X A', 'b')], ValueError),
            ('200 OK', [['X-A', 'b']], TypeError),    # a list: unhashable, and not a tuple
            ('200 OK', [('X-A', ['b'])], TypeError),  # an unhashable value
            ('200OK', [('X-A', 'b')], ValueError),
            (200, [('X-A', 'b')], TypeError),
        ]
        for status, headers, error in bad:
            for _ in range(2):
                with self.subTest(status=status, headers=headers):
                    with self.assertRaises(error):
                        H.encode_head(5, status, headers)
        self.assertEqual(list(H._heads), [('200 OK', (('X-A', 'b'),))])

    def test_the_cache_is_bounded(self):
        for i in range(H._HEADS_MAX * 2 + 10):
            H.encode_head(1, '200 OK', [('Content-Length', str(i))])
            self.assertLessEqual(len(H._heads), H._HEADS_MAX)


if __name__ == '__main__':
    unittest.main()
