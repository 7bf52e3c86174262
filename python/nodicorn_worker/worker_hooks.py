"""The worker-side hooks in a worker: post_fork, post_worker_init, worker_int, worker_abort,
pre_request, post_request, worker_exit, called where gunicorn's worker calls them.

Without a config that defines hooks, none of this is imported. The request path stays the plain
one unless pre_request or post_request is defined: then `request_class` wraps it.
"""
import os
import signal
from typing import Any, Callable, Dict, Optional

from . import exitcodes
from . import hooks as H
from .wsgi import WsgiRequest


class WorkerHooks:
    def __init__(self, config_spec: str, age: int, master_pid: int) -> None:
        values = H.read_cfg_values()
        self.hooks: Dict[str, Callable] = H.load_hooks(config_spec)
        cfg = H.Settings(values, self.hooks)
        self.log = H.worker_log()
        server_pid = H.server_pid(master_pid)
        self.worker = H.WorkerInfo(age, server_pid, cfg, self.log)
        self.server = H.ServerInfo(cfg, self.log, server_pid, values.get('workers') or 1)
        self._exited = False

    def _run(self, name: str, *args: Any) -> bool:
        return H.call(self.hooks, self.log, name, *args)

    # -- boot ----------------------------------------------------------------------------

    def post_fork(self) -> None:
        """Before the app is imported (in a spawned worker) or right after the fork (preload).
        Raising fails the boot, as in gunicorn."""
        fn = self.hooks.get('post_fork')
        if fn is not None:
            fn(self.server, self.worker)

    def post_worker_init(self, app: Any) -> None:
        """Once the app is loaded, before the first request. Raising fails the boot."""
        self.worker.app = app
        fn = self.hooks.get('post_worker_init')
        if fn is not None:
            fn(self.worker)
        self.worker.booted = True

    def install_signals(self) -> None:
        """SIGABRT (Node's timeout, before SIGKILL): worker_abort, then exit 1. SIGQUIT: worker_int,
        then exit 0. Not on Windows, which has neither."""
        if os.name != 'posix':
            return
        signal.signal(signal.SIGABRT, self._on_abort)
        if 'worker_int' in self.hooks:
            signal.signal(signal.SIGQUIT, self._on_int)

    def _on_abort(self, signum: int, frame: Any) -> None:
        self.worker.alive = False
        self.worker.aborted = True
        self._run('worker_abort', self.worker)
        exitcodes.flush_and_exit(1)

    def _on_int(self, signum: int, frame: Any) -> None:
        self.worker.alive = False
        self._run('worker_int', self.worker)
        exitcodes.flush_and_exit(0)

    def worker_exit(self) -> None:
        if self._exited:
            return
        self._exited = True
        self.worker.alive = False
        try:
            fn = self.hooks.get('worker_exit')
            if fn is not None:
                fn(self.server, self.worker)
        except Exception:
            import traceback
            self.log.warning('Exception during worker exit:\n%s', traceback.format_exc().rstrip())

    # -- requests ------------------------------------------------------------------------

    def wrap_app(self, app: Callable) -> Callable:
        """pre_request runs just before the app; raising makes the request a 500, as in gunicorn."""
        pre = self.hooks.get('pre_request')
        if pre is None:
            return app
        worker = self.worker

        def app_with_pre_request(environ: Dict[str, Any], start_response: Callable) -> Any:
            req = H.Request(environ)
            environ['nodicorn.hook_request'] = req
            pre(worker, req)
            return app(environ, start_response)
        return app_with_pre_request

    def request_class(self) -> type:
        post = self.hooks.get('post_request')
        worker = self.worker
        log = self.log
        if post is None:
            if 'pre_request' not in self.hooks:
                return WsgiRequest
            return _counting(worker)
        return _with_post_request(worker, post, log)


def _counting(worker: H.WorkerInfo) -> type:
    class CountedRequest(WsgiRequest):
        __slots__ = ()

        def __call__(self) -> None:
            worker.nr += 1
            WsgiRequest.__call__(self)
    return CountedRequest


def _with_post_request(worker: H.WorkerInfo, post: Callable, log: Any) -> type:
    class HookedRequest(WsgiRequest):
        """Keeps the status the app gave, and calls post_request once the response is complete
        (after END went to Node), with the environ and a Response."""
        __slots__ = ('status',)

        def __init__(self, channel: Any, fid: int, payload: Any) -> None:
            WsgiRequest.__init__(self, channel, fid, payload)
            self.status: Optional[str] = None

        def start_response(self, status: str, headers: list, exc_info: Any = None) -> Callable:
            write = WsgiRequest.start_response(self, status, headers, exc_info)
            self.status = status
            return write

        def __call__(self) -> None:
            worker.nr += 1
            try:
                self._respond()
                environ = self.environ or {}
                req = environ.get('nodicorn.hook_request') or H.Request(environ)
                try:
                    post(worker, req, environ, H.Response(self.status, self.headers, self.sent))
                except Exception:
                    import traceback
                    log.error('Exception in post_request hook:\n%s', traceback.format_exc().rstrip())
            finally:
                self.environ = None
    return HookedRequest
