"""nodicorn from pip: a WSGI server whose Node.js core owns the sockets while Python workers run the app.

`nodicorn` (the console script) and `python -m nodicorn` take the same arguments as the npm CLI;
see nodicorn.launcher. From Python, in place of another server's call:
  from nodicorn import serve         waitress's serve(app, host=..., port=...)   (nodicorn.serve)
  from nodicorn import make_server   wsgiref's make_server(host, port, app)      (nodicorn.simple_server)
"""
from nodicorn.serve import serve
from nodicorn.simple_server import make_server

__all__ = ["serve", "make_server"]
