# web_application.py -- the tutorial's first WSGI app, unchanged except that the
# development server only starts when the file is run directly:
#
#     python examples/web_application.py          # wsgiref's server on :8051
#     nodicorn web_application:application --chdir examples --bind localhost:8051
#
# (nodicorn also serves the unguarded original: its worker stubs out make_server
# while the module is imported.)
from wsgiref.simple_server import make_server


def application(environ, start_response):
    start_response("200 OK", [("Content-type", "text/plain")])
    return ["Hello my friend!".encode("utf-8")]


if __name__ == "__main__":
    server = make_server('localhost', 8051, application)
    server.serve_forever()
