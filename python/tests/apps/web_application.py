# A copy of the seed tutorial's file: it starts its own server at import time, which the worker
# must skip (its make_server is replaced while the module loads).
from wsgiref.simple_server import make_server


def hello_app(environ, start_response):
    start_response("200 OK", [("Content-type", "text/plain")])
    return ["Hello my friend!".encode("utf-8")]


server = make_server('localhost', 8051, hello_app)
server.serve_forever()
