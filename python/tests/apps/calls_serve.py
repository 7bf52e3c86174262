"""The waitress form: serve() at module level, which must return at once when a worker imports this."""
from nodicorn import make_server, serve


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"served after serve() returned"]


serve(application, host="127.0.0.1", port=8053)
make_server("127.0.0.1", 8051, application).serve_forever()
