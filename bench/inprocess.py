"""The bench apps' own cost, with no server at all: the WSGI app called in a loop.

Issue 4 measures servers against this: on the Flask and Django views, a server's whole-tree CPU
per request should stay within 10 % of what the app alone costs in one process.

Each request gets a fresh environ as a server would build it for wrk's request (a copy of the CGI
and wsgi.* entries, a new empty wsgi.input), a start_response that keeps the status, and its
result is iterated and closed. The figure is CPU time (time.process_time) per request, the
median of several timed runs after a warm-up. Run it pinned like the servers:

    taskset -c 0 bench/.venv/bin/python bench/inprocess.py [--json] [--runs 7] [--seconds 0.5]
        [--app NAME=module:attr:PATH:EXPECTED ...]

Without --app it measures hello, flask-json and django-template (run.mjs passes its own
scenarios, with their names, so the two cannot drift apart).

--worker adds a second figure per app: the same request through nodicorn's own worker runner
(python/nodicorn_worker), in memory: REQUEST frames routed in batches of --batch as the pipe
would deliver them, environ decoded, app run, answer frames encoded, the pipe writes replaced by
a no-op. Its excess over the bare app is the worker's Python cost per request, syscalls excluded.
"""
import argparse
import importlib
import io
import json
import os
import platform
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
APPS = os.path.join(HERE, 'apps')

DEFAULT_APPS = [
    'hello=scenarios:hello:/:Hello my friend!',
    'flask-json=flask_bench:app:/api/items:"total":10',
    'django-template=django_bench:application:/page/:ROW 19',
]


def parse_spec(spec):
    name, rest = spec.split('=', 1)
    module, attr, path, expected = rest.split(':', 3)
    return name, module, attr, path, expected


def base_environ(path):
    """What nodicorn's worker hands the app for wrk's `GET path HTTP/1.1` with a Host header."""
    return {
        'REQUEST_METHOD': 'GET',
        'SCRIPT_NAME': '',
        'PATH_INFO': path,
        'QUERY_STRING': '',
        'RAW_URI': path,
        'SERVER_PROTOCOL': 'HTTP/1.1',
        'SERVER_NAME': '127.0.0.1',
        'SERVER_PORT': '8000',
        'REMOTE_ADDR': '127.0.0.1',
        'REMOTE_PORT': '51234',
        'HTTP_HOST': '127.0.0.1:8000',
        'wsgi.url_scheme': 'http',
        'wsgi.version': (1, 0),
        'wsgi.errors': sys.stderr,
        'wsgi.multithread': False,
        'wsgi.multiprocess': True,
        'wsgi.run_once': False,
    }


def make_request(app, path):
    """One request, returning (status, body): the body is only joined for the check."""
    base = base_environ(path)
    BytesIO = io.BytesIO
    seen = []

    def write(data):
        pass

    def start_response(status, headers, exc_info=None):
        seen.append(status)
        return write

    def request():
        environ = base.copy()
        environ['wsgi.input'] = BytesIO()
        result = app(environ, start_response)
        try:
            chunks = [chunk for chunk in result]
        finally:
            close = getattr(result, 'close', None)
            if close is not None:
                close()
        return seen.pop(), chunks

    return request


def make_worker_request(app, path, batch):
    """A request callable that runs `batch` requests through nodicorn's worker, in memory."""
    sys.path.insert(0, os.path.join(HERE, '..', 'python'))
    from nodicorn_worker import protocol as P
    from nodicorn_worker import wsgi
    from nodicorn_worker.channel import Channel

    answers = []

    class Memory(Channel):
        # The pipe writes, replaced: what would have gone to Node is kept for the check only.
        def _write_all(self, data):
            answers.append(data)

        def _write_parts(self, parts):
            answers.append(b''.join(parts))

    wsgi.configure(app, 1, True)
    # A real fd that never has data: a streamed answer's poll() selects on it and finds nothing.
    quiet, _ = os.pipe()
    channel = Memory(quiet, None, wsgi.WsgiRequest, wsgi.WsgiRequest.__call__, inline=True)
    pairs = [(k, v) for k, v in base_environ(path).items() if type(v) is str]
    frames = b''.join(P.encode_request(fid, 0, pairs) for fid in range(1, batch + 1))
    pending = channel._pending
    handler = channel.handler
    requests = channel.requests

    def run_batch():
        # What Channel._serve_inline does with one read's worth of REQUEST frames.
        del answers[:]
        channel._route(frames)
        while pending:
            state = pending.popleft()
            channel.corked = bool(pending)
            handler(state)
            requests.pop(state.id, None)
        return answers

    return run_batch


def timed(request, n):
    clock = time.process_time
    start = clock()
    for _ in range(n):
        request()
    return clock() - start


def measure(request, runs, seconds):
    # Warm-up (imports, template compilation, caches), then size a run to about `seconds`.
    n = 50
    while timed(request, n) < seconds / 4:
        n *= 2
    per = timed(request, n) / n
    n = max(100, int(seconds / max(per, 1e-9)))
    samples = [timed(request, n) / n * 1e6 for _ in range(runs)]
    return n, samples


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--app', action='append', help='NAME=module:attr:PATH:EXPECTED (repeatable)')
    ap.add_argument('--runs', type=int, default=7)
    ap.add_argument('--seconds', type=float, default=0.5, help='length of one timed run')
    ap.add_argument('--json', action='store_true')
    ap.add_argument('--worker', action='store_true', help="also through nodicorn's worker runner, in memory")
    ap.add_argument('--batch', type=int, default=8, help='REQUEST frames per routed read (--worker)')
    opts = ap.parse_args()
    sys.path.insert(0, APPS)
    out = {
        'python': platform.python_version(),
        'cpus': sorted(os.sched_getaffinity(0)),
        'runs': opts.runs,
        'apps': [],
    }
    for spec in opts.app or DEFAULT_APPS:
        name, module, attr, path, expected = parse_spec(spec)
        app = getattr(importlib.import_module(module), attr)
        request = make_request(app, path)
        status, chunks = request()
        body = b''.join(chunks).decode('latin-1')
        if not status.startswith('200') or expected not in body:
            out['apps'].append({'name': name, 'failed': 'answered %s, %r' % (status, body[:60])})
            continue
        n, samples = measure(request, opts.runs, opts.seconds)
        entry = {
            'name': name,
            'app': '%s:%s' % (module, attr),
            'path': path,
            'iterations': n,
            'usPerRequest': statistics.median(samples),
            'samples': [round(s, 3) for s in samples],
        }
        if opts.worker:
            batch = make_worker_request(app, path, opts.batch)
            answer = b''.join(batch())
            if expected.encode('latin-1') not in answer:
                entry['worker'] = {'failed': 'answered %r' % answer[:80]}
            else:
                n, samples = measure(batch, opts.runs, opts.seconds)
                per = [s / opts.batch for s in samples]
                entry['worker'] = {'batch': opts.batch, 'usPerRequest': statistics.median(per), 'samples': [round(s, 3) for s in per]}
        out['apps'].append(entry)
    if opts.json:
        print(json.dumps(out))
        return
    print('in-process CPU µs per request (median of %d runs, Python %s, CPUs %s)' % (opts.runs, out['python'], out['cpus']))
    for a in out['apps']:
        if 'failed' in a:
            print('  %-16s FAILED %s' % (a['name'], a['failed']))
        else:
            print('  %-16s %8.2f   (runs: %s)' % (a['name'], a['usPerRequest'], ', '.join('%.2f' % s for s in a['samples'])))
            w = a.get('worker')
            if w and 'failed' in w:
                print('  %-16s FAILED %s' % ('  via worker', w['failed']))
            elif w:
                print('  %-16s %8.2f   (nodicorn worker runner, in memory, batches of %d)' % ('  via worker', w['usPerRequest'], w['batch']))


if __name__ == '__main__':
    main()
