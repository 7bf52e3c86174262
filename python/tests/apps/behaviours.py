"""One app, many behaviours, chosen by PATH_INFO; parameters in QUERY_STRING."""
import io
import json
import sys
import time
from urllib.parse import parse_qs


def _q(environ):
    return {k: v[0] for k, v in parse_qs(environ.get('QUERY_STRING', '')).items()}


def _json(start_response, value, status='200 OK'):
    body = json.dumps(value).encode()
    start_response(status, [('Content-Type', 'application/json')])
    return [body]


def _mark(path, text):
    with open(path, 'a') as f:
        f.write(text + '\n')


def environ_(environ, start_response):
    keys = {}
    for k, v in environ.items():
        if isinstance(v, (str, bool, int, tuple)) or v is None:
            keys[k] = v
    keys['errors_is_stderr'] = environ['wsgi.errors'] is sys.stderr
    keys['has_file_wrapper'] = callable(environ.get('wsgi.file_wrapper'))
    keys['dict_type'] = type(environ).__name__
    return _json(start_response, keys)


def input_(environ, start_response):
    mode = _q(environ).get('mode', 'read')
    inp = environ['wsgi.input']
    if mode == 'read':
        out = [inp.read()]
    elif mode == 'read_none':
        out = [inp.read(None)]
    elif mode == 'read_minus':
        out = [inp.read(-1)]
    elif mode == 'read_n':
        out = []
        while True:
            piece = inp.read(3)
            out.append(piece)
            if not piece:
                break
    elif mode == 'readline':
        out = []
        while True:
            line = inp.readline()
            out.append(line)
            if not line:
                break
    elif mode == 'readline_n':
        out = [inp.readline(2), inp.readline(100), inp.readline(0), inp.read()]
    elif mode == 'readlines':
        out = inp.readlines()
    elif mode == 'readlines_hint':
        out = inp.readlines(1)
    elif mode == 'iter':
        out = list(inp)
    else:
        raise ValueError(mode)
    return _json(start_response, {'parts': [p.decode('latin-1') for p in out],
                                  'terminated': environ.get('wsgi.input_terminated', False)})


def echo(environ, start_response):
    # Reads in small pieces (so credit has to flow), answers with the length and a checksum.
    inp = environ['wsgi.input']
    size = 0
    total = 0
    while True:
        piece = inp.read(65536)
        if not piece:
            break
        size += len(piece)
        total = (total + sum(piece[::4096])) & 0xffffffff
    return _json(start_response, {'size': size, 'sum': total})


def write_(environ, start_response):
    write = start_response('200 OK', [('Content-Type', 'text/plain')])
    write(b'one,')
    write(b'')
    write(b'two,')
    return [b'three']


def twice(environ, start_response):
    start_response('200 OK', [])
    start_response('500 Oops', [])
    return [b'unreachable']


def exc_before(environ, start_response):
    start_response('200 OK', [('X-First', '1')])
    try:
        raise KeyError('boom')
    except KeyError:
        start_response('500 Internal Server Error', [('X-Replaced', '1')], sys.exc_info())
    return [b'replaced']


def exc_after(environ, start_response):
    write = start_response('200 OK', [])
    write(b'already out')
    try:
        raise KeyError('late')
    except KeyError:
        start_response('500 Internal Server Error', [], sys.exc_info())
    return [b'unreachable']


def stream(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])

    def gen():
        yield b'first'
        # Blocks until the test sends the body: proves 'first' went out before the end.
        yield b'second:' + environ['wsgi.input'].read()
    return gen()


class Closing:
    def __init__(self, marker, count=None, delay=0.01, fail_close=False, fail_at=None):
        self.marker = marker
        self.count = count
        self.delay = delay
        self.fail_close = fail_close
        self.fail_at = fail_at

    def __iter__(self):
        i = 0
        while self.count is None or i < self.count:
            if self.fail_at is not None and i == self.fail_at:
                raise ValueError('failed while iterating')
            if self.marker:
                _mark(self.marker, 'chunk %d' % i)
            yield b'chunk %d;' % i
            i += 1
            if self.delay:
                time.sleep(self.delay)

    def close(self):
        if self.marker:
            _mark(self.marker, 'closed')
        if self.fail_close:
            raise RuntimeError('close failed')


def closing(environ, start_response):
    q = _q(environ)
    start_response('200 OK', [('Content-Type', 'text/plain')])
    count = int(q['count']) if 'count' in q else None
    return Closing(q.get('marker'), count, float(q.get('delay', '0.01')),
                   q.get('fail_close') == '1', int(q['fail_at']) if 'fail_at' in q else None)


def file_(environ, start_response):
    q = _q(environ)
    f = open(q['path'], 'rb')
    f.seek(int(q.get('offset', '0')))
    headers = [('Content-Type', 'application/octet-stream')]
    if 'cl' in q:
        headers.append(('Content-Length', q['cl']))
    start_response('200 OK', headers)
    wrapper = environ['wsgi.file_wrapper'](f, 4)
    if 'marker' in q:
        def close():
            _mark(q['marker'], 'closed')
            f.close()
        wrapper.close = close
    return wrapper


def tempfile_(environ, start_response):
    import tempfile
    f = tempfile.NamedTemporaryFile()
    f.write(b'temporary')
    f.seek(0)
    start_response('200 OK', [])
    return environ['wsgi.file_wrapper'](f)


def filelike(environ, start_response):
    start_response('200 OK', [])
    return environ['wsgi.file_wrapper'](io.BytesIO(b'abcdefghij'), 4)


def raise_(environ, start_response):
    raise ZeroDivisionError('division by zero')


def raise_iter(environ, start_response):
    start_response('200 OK', [])

    def gen():
        yield b'partial'
        raise ValueError('broken generator')
    return gen()


def big(environ, start_response):
    q = _q(environ)
    size = int(q['size'])
    chunk = int(q['chunk'])
    start_response('200 OK', [('Content-Type', 'application/octet-stream')])

    def gen():
        sent = 0
        while sent < size:
            n = min(chunk, size - sent)
            yield b'x' * n
            sent += n
    if q.get('list') == '1':
        return list(gen())
    return gen()


def headers(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Keep-Alive', 'timeout=5'),
                              ('Transfer-Encoding', 'chunked'), ('Connection', 'close'),
                              ('X-Latin', 'caf\xe9'), ('Upgrade', 'h2c'), ('Connection', 'keep-alive'),
                              ('Set-Cookie', 'a=1'), ('Set-Cookie', 'b=2')])
    return [b'ok']


BAD_HEADERS = {
    'crlf': ('200 OK', [('X-A', 'a\r\nInjected: 1')]),
    'nul': ('200 OK', [('X-A', 'a\x00')]),
    'name': ('200 OK', [('Bad Name', 'v')]),
    'nonlatin': ('200 OK', [('X-A', '\u20ac')]),
    'bytes': ('200 OK', [(b'X-A', 'v')]),
    'notuple': ('200 OK', [['X-A', 'v']]),
    'status_int': (200, []),
    'status_short': ('200', []),
    'status_letters': ('2x0 OK', []),
    'status_crlf': ('200 OK\r\nX: y', []),
    'dict': ('200 OK', {'X-A': 'v'}),
}


def badheader(environ, start_response):
    status, hdrs = BAD_HEADERS[_q(environ)['kind']]
    try:
        start_response(status, hdrs)
    except (TypeError, ValueError) as e:
        start_response('400 Rejected', [('X-Error', type(e).__name__)])
        return [str(e).encode('latin-1', 'replace')]
    return [b'accepted']


def nostart(environ, start_response):
    return []


def notbytes(environ, start_response):
    start_response('200 OK', [])
    return ['a str']


def empty(environ, start_response):
    start_response('204 No Content', [])
    return iter([b'', b''])


def latin1(environ, start_response):
    start_response('200 OK', [])
    return [environ['PATH_INFO'].encode('latin-1')]


def pid(environ, start_response):
    import os
    start_response('200 OK', [])
    return [str(os.getpid()).encode()]


def print_(environ, start_response):
    # stdout is a pipe Node reads as log lines, never the protocol pipe.
    print('\x15\x00\x00\x00 printed by the app')
    sys.stdout.flush()
    start_response('200 OK', [])
    return [b'printed']


ROUTES = {
    '/print': print_,
    '/environ': environ_, '/input': input_, '/echo': echo, '/write': write_, '/twice': twice,
    '/exc_before': exc_before, '/exc_after': exc_after, '/stream': stream, '/closing': closing,
    '/file': file_, '/tempfile': tempfile_, '/filelike': filelike, '/raise': raise_, '/raise_iter': raise_iter,
    '/big': big, '/headers': headers, '/badheader': badheader, '/nostart': nostart,
    '/notbytes': notbytes, '/empty': empty, '/pid': pid,
}


def application(environ, start_response):
    handler = ROUTES.get(environ['PATH_INFO'])
    if handler is None:
        if environ['PATH_INFO'].startswith('/latin1/'):
            return latin1(environ, start_response)
        start_response('404 Not Found', [('Content-Type', 'text/plain')])
        return [b'not found']
    return handler(environ, start_response)
