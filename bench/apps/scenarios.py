"""The WSGI apps every server in the benchmark runs: one callable per scenario, same file for all."""
import time

HELLO = b"Hello my friend!"
TEN_KB = b"x" * 10240
ONE_MB = b"y" * (1024 * 1024)


def hello(environ, start_response):
    # The seed tutorial's app, plus a Content-Length: without one uWSGI's --http11-socket can
    # neither chunk nor keep the connection alive, and wrk would measure nothing for it.
    start_response("200 OK", [("Content-type", "text/plain"), ("Content-Length", "16")])
    return [HELLO]


def get10k(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", "10240")])
    return [TEN_KB]


def _read_body(environ):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    stream = environ["wsgi.input"]
    chunks = []
    while length > 0:
        chunk = stream.read(min(length, 65536))
        if not chunk:
            break
        chunks.append(chunk)
        length -= len(chunk)
    return b"".join(chunks)


def echo(environ, start_response):
    body = _read_body(environ)
    start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(len(body)))])
    return [body]


def download1m(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(len(ONE_MB)))])
    return [ONE_MB]


def upload(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    stream = environ["wsgi.input"]
    seen = 0
    while seen < length:
        chunk = stream.read(min(length - seen, 262144))
        if not chunk:
            break
        seen += len(chunk)
    body = str(seen).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def sleep10(environ, start_response):
    time.sleep(0.01)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"slept"]
