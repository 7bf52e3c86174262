# ulysses.py -- the tutorial's second WSGI app: the first 30 lines of ulysses.txt.
#
# The tutorial opens "ulysses.txt" relative to the working directory; this copy
# looks beside the module so it works from any directory, and reads the file as
# UTF-8 whatever the locale says.
import os
from wsgiref.simple_server import make_server

TEXT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ulysses.txt")


def application(environ, start_response):
    start_response("200 OK", [("Content-type", "text/plain")])

    with open(TEXT, encoding="utf-8") as fh:
        lines = [fh.readline().encode("utf-8") for i in range(30)]

    return lines


if __name__ == "__main__":
    # The tutorial binds to its own host name ('saturn', port 8080).
    server = make_server('localhost', 8080, application)
    server.serve_forever()
