"""`make_server(host, port, app)` as wsgiref.simple_server's: `from nodicorn import make_server`.

The returned server starts nodicorn when serve_forever() is called and blocks until it stops;
shutdown() (from another thread) and server_close() stop it. Unlike wsgiref's, nothing listens
until serve_forever(): the address is opened by nodicorn's server process, so a port of 0 is
chosen then, and its log says which ("Listening at: ...").
"""
from __future__ import annotations

import sys
import threading
from typing import Any, Optional, Tuple

from nodicorn.appref import AppRef, find_app
from nodicorn.run import ServerProcess, exit_on_failure, inside_worker
from nodicorn.serve import server_args


class NodicornServer:
    """What make_server returns: wsgiref's WSGIServer methods that make sense for nodicorn."""

    def __init__(self, host: str, port: int, app: Any, ref: Optional[AppRef], args: list) -> None:
        self.server_address: Tuple[str, int] = (host, port)
        self.server_name = host
        self.server_port = port
        self.application = app
        self._ref = ref
        self._args = args
        self._lock = threading.Lock()
        self._process: Optional[ServerProcess] = None
        self._closed = False

    def get_app(self) -> Any:
        return self.application

    def set_app(self, app: Any) -> None:
        self.application = app
        if self._ref is not None:
            self._ref = find_app(app, sys._getframe(1).f_globals, "set_app()")

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Runs nodicorn until it stops (shutdown(), a signal, Ctrl+C); at once in a worker's import."""
        if self._ref is None:
            return
        with self._lock:
            if self._closed:
                raise OSError("serve_forever(): the server was closed (server_close())")
            self._process = ServerProcess(self._args, self._ref)
        try:
            exit_on_failure(self._process.wait(), "serve_forever()")
        finally:
            with self._lock:
                self._process = None

    def shutdown(self) -> None:
        """Stops serve_forever() gracefully (from another thread, as with wsgiref)."""
        with self._lock:
            process = self._process
        if process is not None:
            process.stop()
            process.proc.wait()

    def server_close(self) -> None:
        with self._lock:
            self._closed = True
        self.shutdown()

    def __enter__(self) -> "NodicornServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server_close()


def make_server(host: str, port: int, app: Any, server_class: Any = None, handler_class: Any = None, **kw: Any) -> NodicornServer:
    """A server for `app` on host:port; serve_forever() runs it. Also takes serve()'s keywords (threads=4...)."""
    if server_class is not None or handler_class is not None:
        raise TypeError("make_server(): server_class and handler_class are wsgiref's; nodicorn serves with its own")
    for key in ("host", "port", "listen", "unix_socket"):
        if key in kw:
            raise TypeError(f"make_server() got an unexpected keyword argument {key!r}: host and port are its first two arguments")
    if inside_worker():
        return NodicornServer(host, port, app, None, [])
    args = server_args({"host": host, "port": port, **kw}, "make_server()")
    return NodicornServer(host, port, app, find_app(app, sys._getframe(1).f_globals, "make_server()"), args)
