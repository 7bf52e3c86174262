"""gunicorn's server hooks, read from the config file and called with the objects they expect.

The config file (a path, or python:module.name) is run again here, in the process that calls
the hooks (so its module-level code runs once in each such process): the worker for the worker-side hooks, the hook host for the arbiter-side ones (see
hookhost.py). A hook may be a callable or gunicorn's import string ("pkg.module.function"). What the hooks receive:

  cfg     every setting by gunicorn's name (cfg.workers, cfg.bind, ...), from the JSON Node
          passes in NODICORN_HOOK_CFG, plus the hooks themselves (cfg.post_fork(...)).
  worker  pid, ppid (server.pid), age, log, cfg, alive, booted, aborted, nr, max_requests, timeout.
  server  cfg, log, pid (the master's, $NODICORN_SERVER_PID: Node's, or the master above several
          front ends), num_workers, proc_name, WORKERS.
  req     method, uri, path, query, fragment, version, headers [(NAME, value)], scheme.
  resp    status, status_code, headers, sent (post_request).
"""
import json
import logging
import os
import sys
import traceback
from typing import Any, Callable, Dict, List, Optional, Tuple

from .dumpconfig import import_hook, load_namespace, takes

CFG_ENV = 'NODICORN_HOOK_CFG'
# The pid the hooks see as server.pid and worker.ppid: the master that takes the server's signals.
# With several front ends that is not the Node process that runs the workers (the front end).
SERVER_PID_ENV = 'NODICORN_SERVER_PID'

# gunicorn's server hooks (the registry declares them, with their signatures and the process each
# runs in: src/config/settings/hooks.ts).
HOOK_NAMES = ('on_starting', 'on_reload', 'when_ready', 'pre_fork', 'post_fork', 'post_worker_init',
              'worker_int', 'worker_abort', 'pre_exec', 'pre_request', 'post_request', 'child_exit',
              'worker_exit', 'nworkers_changed', 'on_exit', 'ssl_context')


class HookConfigError(Exception):
    """A hook the config file names cannot be used: one line says which and why."""


def _resolve(name: str, value: Any) -> Callable:
    """The hook as a callable: gunicorn also takes an import string, "package.module.function".
    (The config loader checked the arity of the functions; dumpconfig.py.)"""
    if isinstance(value, str):
        try:
            value = import_hook(name, value)
        except TypeError as e:
            raise HookConfigError(str(e))
    if not callable(value):
        raise HookConfigError('%s: expected a callable, got %s' % (name, type(value).__name__))
    if name == 'post_request' and not takes(value, 4):
        # gunicorn takes post_request(worker, req) and (worker, req, environ) too.
        short = value
        if takes(value, 3):
            return lambda worker, req, environ, resp: short(worker, req, environ)
        return lambda worker, req, environ, resp: short(worker, req)
    return value


def find_hooks(namespace: Dict[str, Any]) -> Dict[str, Callable]:
    """The hooks the config defines. Raises HookConfigError."""
    return {name: _resolve(name, namespace[name]) for name in HOOK_NAMES if namespace.get(name) is not None}


def load_hooks(spec: str) -> Dict[str, Callable]:
    """The hooks of the config file (a path) or module (python:module.name)."""
    return find_hooks(load_namespace(spec))


class Settings:
    """cfg: the settings by gunicorn's name (attribute access), and the hooks (no-ops if absent)."""

    def __init__(self, values: Dict[str, Any], hooks: Dict[str, Callable]) -> None:
        self.__dict__.update(values)
        self.settings = dict(values)
        for name in HOOK_NAMES:
            self.__dict__[name] = hooks.get(name, _noop)

    def __repr__(self) -> str:
        return '<nodicorn cfg: %d settings>' % len(self.settings)


def _noop(*args: Any) -> None:
    return None


_cfg_values: Optional[Dict[str, Any]] = None


def read_cfg_values() -> Dict[str, Any]:
    """The settings Node passed; removed from the environment so the app does not inherit it
    (kept here for the workers a zygote forks)."""
    global _cfg_values
    if _cfg_values is None:
        raw = os.environ.pop(CFG_ENV, None)
        _cfg_values = json.loads(raw) if raw else {}
    return _cfg_values


class HookLog:
    """server.log / worker.log: a logging.Logger's methods, plus the no-op ones gunicorn's has."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger

    def __getattr__(self, name: str) -> Any:
        return getattr(self._logger, name)

    def reopen_files(self) -> None:
        pass

    def close_on_exec(self) -> None:
        pass


def worker_log() -> HookLog:
    """In a worker: the "gunicorn.error" logger, as logconfig.py set it up (its lines reach the
    error log with their level, or go where --log-config sends them)."""
    return HookLog(logging.getLogger('gunicorn.error'))


def host_log(level: Optional[str], handler: logging.Handler) -> HookLog:
    # Not registered with logging's manager: a hook's logging config cannot silence it by name.
    logger = logging.Logger('nodicorn.hooks')
    logger.propagate = False
    logger.setLevel(getattr(logging, str(level or 'info').upper(), logging.INFO))
    handler.setFormatter(logging.Formatter('%(message)s'))
    logger.addHandler(handler)
    return HookLog(logger)


class _Tmp:
    """worker.tmp: Node watches request deadlines itself, so there is no heartbeat file."""

    def notify(self) -> None:
        pass


class WorkerInfo:
    """The `worker` argument of the worker-side hooks."""

    def __init__(self, age: int, ppid: int, cfg: Settings, log: HookLog) -> None:
        self.age = age
        self.pid = os.getpid()
        self.ppid = ppid
        self.cfg = cfg
        self.log = log
        self.alive = True
        self.booted = False
        self.aborted = False
        self.nr = 0
        self.max_requests = getattr(cfg, 'max_requests', 0) or sys.maxsize
        self.timeout = getattr(cfg, 'timeout', 30)
        self.tmp = _Tmp()
        self.sockets: List[Any] = []
        self.app = None

    def notify(self) -> None:
        pass

    def __str__(self) -> str:
        return '<Worker %s>' % self.pid


def server_pid(default: int) -> int:
    raw = os.environ.get(SERVER_PID_ENV)
    return int(raw) if raw else default


class ServerInfo:
    """The `server` argument: the arbiter, as far as hooks look at it."""

    def __init__(self, cfg: Settings, log: HookLog, pid: int, num_workers: int) -> None:
        self.cfg = cfg
        self.log = log
        self.pid = pid
        self.num_workers = num_workers
        self.proc_name = getattr(cfg, 'proc_name', None) or 'nodicorn'
        self.WORKERS: Dict[int, Any] = {}
        self.app = None


class Request:
    """`req` for pre_request / post_request, built from the environ (header names as gunicorn's:
    upper case with dashes)."""

    def __init__(self, environ: Dict[str, Any]) -> None:
        self.method = environ.get('REQUEST_METHOD', '')
        self.uri = environ.get('RAW_URI', '')
        self.path = self.uri.split('?', 1)[0].split('#', 1)[0] if self.uri.startswith('/') else environ.get('PATH_INFO', '')
        self.query = environ.get('QUERY_STRING', '')
        self.fragment = ''
        self.scheme = environ.get('wsgi.url_scheme', 'http')
        protocol = environ.get('SERVER_PROTOCOL', 'HTTP/1.1')
        try:
            major, minor = protocol.split('/', 1)[1].split('.', 1)
            self.version: Tuple[int, int] = (int(major), int(minor))
        except (IndexError, ValueError):
            self.version = (1, 1)
        self.headers = [(_header_name(k), v) for k, v in environ.items() if _is_header_key(k)]
        self.remote_addr = environ.get('REMOTE_ADDR')

    def __repr__(self) -> str:
        return '<Request %s %s>' % (self.method, self.uri)


def _is_header_key(key: str) -> bool:
    return key.startswith('HTTP_') or key in ('CONTENT_TYPE', 'CONTENT_LENGTH')


def _header_name(key: str) -> str:
    return (key[5:] if key.startswith('HTTP_') else key).replace('_', '-')


class Response:
    """`resp` for post_request: what the app answered."""

    def __init__(self, status: Optional[str], headers: Optional[list], sent: int) -> None:
        self.status = status
        try:
            self.status_code = int(status.split(None, 1)[0]) if status else None
        except ValueError:
            self.status_code = None
        self.headers = list(headers or ())
        self.sent = sent
        self.headers_sent = status is not None


def call(hooks: Dict[str, Callable], log: logging.Logger, name: str, *args: Any) -> bool:
    """Runs a hook; an exception is logged with its traceback. Returns whether it succeeded."""
    fn = hooks.get(name)
    if fn is None:
        return True
    try:
        fn(*args)
        return True
    except Exception:
        log.error('Exception in %s hook:\n%s', name, traceback.format_exc().rstrip())
        return False
