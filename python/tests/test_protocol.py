"""The Python codec against the golden vectors shared with src/protocol/frames.ts."""
import json
import os
import random
import tracemalloc
import unittest

from nodicorn_worker import protocol as P

VECTORS = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'test', 'fixtures',
                       'frames', 'vectors.json')


def load_vectors():
    with open(VECTORS, encoding='utf-8') as f:
        return json.load(f)['vectors']


def encode(v):
    t = P.FRAME_TYPES[v['type']]
    fid = v['id']
    f = v['fields']
    if t == P.REQUEST:
        return P.encode_request(fid, f['flags'], [tuple(p) for p in f['environ']])
    if t == P.RESPONSE_HEAD:
        return P.encode_response_head(fid, f['status'], f['reason'], [tuple(p) for p in f['headers']])
    if t == P.FILE:
        return P.encode_file(fid, f['path'], f['offset'], f['length'])
    if t == P.BODY_FILE:
        return P.encode_body_file(fid, f['path'], f['offset'], f['length'], f['dev'], f['ino'])
    if t in (P.CREDIT, P.BODY_CREDIT):
        return P.encode_count(t, fid, f['n'])
    if t in (P.READY, P.BOOT_ERROR, P.ERROR):
        return P.encode_json(t, fid, f['json'])
    if t in (P.BODY, P.RESPONSE_BODY):
        return P.encode_frame(t, fid, bytes.fromhex(f['data_hex']))
    if t == P.MODULES:
        return P.encode_paths(t, fid, f['paths'])
    return P.encode_frame(t, fid)


def fields_of(ftype, payload):
    """The vector `fields` a decoded frame stands for."""
    if ftype == P.REQUEST:
        flags, environ = P.decode_request(payload)
        return {'flags': flags, 'environ': [list(p) for p in environ]}
    if ftype == P.RESPONSE_HEAD:
        status, reason, headers = P.decode_response_head(payload)
        return {'status': status, 'reason': reason, 'headers': [list(p) for p in headers]}
    if ftype == P.FILE:
        path, offset, length = P.decode_file(payload)
        return {'path': path, 'offset': offset, 'length': length}
    if ftype == P.BODY_FILE:
        path, offset, length, dev, ino = P.decode_body_file(payload)
        return {'path': path, 'offset': offset, 'length': length, 'dev': dev, 'ino': ino}
    if ftype in (P.CREDIT, P.BODY_CREDIT):
        return {'n': P.decode_count(payload)}
    if ftype in (P.READY, P.BOOT_ERROR, P.ERROR):
        return {'json': P.decode_json(payload)}
    if ftype in (P.BODY, P.RESPONSE_BODY):
        return {'data_hex': bytes(payload).hex()}
    if ftype == P.MODULES:
        return {'paths': P.decode_paths(payload)}
    assert len(payload) == 0
    return {}


class GoldenVectors(unittest.TestCase):
    def setUp(self):
        self.vectors = load_vectors()

    def test_there_are_vectors_of_every_type(self):
        self.assertEqual({v['type'] for v in self.vectors}, set(P.FRAME_TYPES))

    def test_encode(self):
        for v in self.vectors:
            with self.subTest(v['name']):
                self.assertEqual(encode(v).hex(), v['hex'])

    def test_decode(self):
        for v in self.vectors:
            with self.subTest(v['name']):
                frames = P.FrameReader().push(bytes.fromhex(v['hex']))
                self.assertEqual(len(frames), 1)
                ftype, fid, payload = frames[0]
                self.assertEqual(ftype, P.FRAME_TYPES[v['type']])
                self.assertEqual(fid, v['id'])
                self.assertEqual(fields_of(ftype, payload), v['fields'])

    def check_stream(self, splitter):
        stream = b''.join(bytes.fromhex(v['hex']) for v in self.vectors)
        reader = P.FrameReader()
        got = []
        for piece in splitter(stream):
            got.extend(reader.push(piece))
        self.assertEqual(reader.buffered, 0)
        self.assertEqual(len(got), len(self.vectors))
        for (ftype, fid, payload), v in zip(got, self.vectors):
            self.assertEqual((ftype, fid), (P.FRAME_TYPES[v['type']], v['id']), v['name'])
            self.assertEqual(fields_of(ftype, payload), v['fields'], v['name'])

    def test_concatenation_whole(self):
        self.check_stream(lambda s: [s])

    def test_concatenation_byte_by_byte(self):
        self.check_stream(lambda s: [s[i:i + 1] for i in range(len(s))])

    def test_concatenation_random_splits(self):
        for seed in range(50):
            rnd = random.Random(seed)

            def split(s):
                pieces = []
                at = 0
                while at < len(s):
                    n = rnd.randint(0, 40)
                    pieces.append(s[at:at + n])
                    at += n
                return pieces
            with self.subTest(seed=seed):
                self.check_stream(split)


class Codec(unittest.TestCase):
    def test_oversized_frame_is_a_protocol_error(self):
        with self.assertRaises(P.ProtocolError):
            P.FrameReader().push(P.pack_header(P.MAX_PAYLOAD + 1, P.BODY, 1))

    def test_pair_block_trailing_bytes(self):
        with self.assertRaises(P.ProtocolError):
            P.decode_pair_block(P.encode_pair_block([('a', 'b')]) + b'x')

    def test_pair_block_truncated(self):
        with self.assertRaises(P.ProtocolError):
            P.decode_pair_block(P.encode_pair_block([('a', 'bcd')])[:-1])

    def test_big_frame_over_many_reads(self):
        data = os.urandom(3 * 1024 * 1024 + 7)
        stream = P.encode_frame(P.BODY, 1, data) + P.encode_frame(P.BODY_END, 1)
        reader = P.FrameReader()
        got = []
        for at in range(0, len(stream), 65536):
            got.extend(reader.push(stream[at:at + 65536]))
        self.assertEqual([(t, i) for t, i, _ in got], [(P.BODY, 1), (P.BODY_END, 1)])
        self.assertEqual(got[0][2], data)

    def test_a_cut_frame_costs_no_copy_of_the_read_that_ends_it(self):
        # A read ends a frame cut by the one before and starts a big frame it cuts in turn.
        # Only the small frame's payload may be allocated; joining what was held with the read
        # (as this reader once did) allocates the whole read again.
        small = P.encode_frame(P.BODY, 1, b'a' * 100)
        big = P.encode_frame(P.BODY, 2, b'b' * (4 * 1024 * 1024))
        reader = P.FrameReader()
        self.assertEqual(reader.push(small[:5]), [])
        read = small[5:] + big[:1024 * 1024]
        tracemalloc.start()
        try:
            frames = reader.push(read)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        self.assertEqual(frames, [(P.BODY, 1, b'a' * 100)])
        self.assertLess(peak, 64 * 1024, 'a read of 1 MiB was copied to complete a 100-byte frame')
        self.assertEqual(reader.buffered, 1024 * 1024)  # the big frame's header and first bytes
        frames = reader.push(big[1024 * 1024:])
        self.assertEqual([(t, i, len(p)) for t, i, p in frames], [(P.BODY, 2, 4 * 1024 * 1024)])
        self.assertIs(type(frames[0][2]), bytes)
        self.assertEqual(reader.buffered, 0)


if __name__ == '__main__':
    unittest.main()
