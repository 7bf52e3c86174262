"""The hook host: one long-lived process that runs gunicorn's arbiter-side hooks for Node.

python -m nodicorn_worker.hookhost --config SPEC [--pythonpath DIR]... [--out-fd N]

Node (the arbiter) starts it only when the config defines an arbiter-side hook, and drives it over
fd 3 with one JSON object per line, one call at a time:

  Node -> host   {"id": 1, "call": "pre_fork", "num_workers": 2, "age": 3}
  host -> Node   {"id": 1, "ok": true, "result": ...}
                 {"id": 1, "ok": false, "error": "ValueError: ...", "traceback": "..."}
  host -> Node   {"event": "ready", "pid": 123, "hooks": ["on_starting", ...]}   (first line)
                 {"event": "error", "message": "..."}          (the config cannot be used; exit 2)
                 {"event": "log", "level": "info", "message": "..."}   (server.log, any time)

Calls: on_starting, when_ready, on_reload, on_exit, pre_exec (no arguments); pre_fork (age);
child_exit (pid, age); worker_started (pid, age: keeps server.WORKERS); nworkers_changed (new,
old); ssl_context (certfile, keyfile, ca_certs, cert_reqs, ciphers, http_protocols). Every call
carries num_workers, so server.num_workers is current. EOF on fd 3 means Node is gone: exit.
"""
import argparse
import json
import logging
import os
import signal
import sys
import threading
import traceback
from typing import Any, Callable, Dict, Optional

from . import hooks as H

PIPE_FD = 3


class _ToNode(logging.Handler):
    def __init__(self, host: 'Host') -> None:
        logging.Handler.__init__(self)
        self.host = host

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.host.send({'event': 'log', 'level': record.levelname.lower(), 'message': self.format(record)})
        except Exception:
            self.handleError(record)


class WorkerRef:
    """The `worker` of pre_fork / child_exit: gunicorn's pid is "[booting]" before the fork."""

    def __init__(self, age: int, pid: Any = '[booting]') -> None:
        self.age = age
        self.pid = pid

    def __repr__(self) -> str:
        return '<Worker %s>' % self.pid


class Host:
    def __init__(self, spec: Optional[str], out_fd: int) -> None:
        self.out_fd = out_fd
        self.lock = threading.Lock()
        values = H.read_cfg_values()
        self.hooks: Dict[str, Callable] = H.load_hooks(spec) if spec else {}
        self.cfg = H.Settings(values, self.hooks)
        self.log = H.host_log(values.get('loglevel'), _ToNode(self))
        # Node, which drives this host (a front end's, with several); server.pid is the master's.
        self.node_pid = os.getppid()
        self.server = H.ServerInfo(self.cfg, self.log, H.server_pid(self.node_pid), values.get('workers') or 1)

    def send(self, message: Dict[str, Any]) -> None:
        data = (json.dumps(message) + '\n').encode('utf-8')
        with self.lock:
            while data:
                data = data[os.write(self.out_fd, data):]

    def handle(self, msg: Dict[str, Any]) -> Any:
        call = msg['call']
        server = self.server
        if 'num_workers' in msg:
            server.num_workers = msg['num_workers']
        if call == 'worker_started':
            server.WORKERS[msg['pid']] = WorkerRef(msg['age'], msg['pid'])
            return None
        fn = self.hooks.get(call)
        if call == 'child_exit':
            worker = server.WORKERS.pop(msg['pid'], None) or WorkerRef(msg['age'], msg['pid'])
            if fn is not None:
                fn(server, worker)
            return None
        if fn is None:
            return None
        if call in ('on_starting', 'when_ready', 'on_reload', 'on_exit', 'pre_exec'):
            fn(server)
        elif call == 'pre_fork':
            fn(server, WorkerRef(msg['age']))
        elif call == 'nworkers_changed':
            fn(server, msg['new'], msg['old'])
        elif call == 'ssl_context':
            from .sslhook import call_ssl_context
            return call_ssl_context(fn, self.cfg, msg)
        else:
            raise ValueError('no such call: %r' % call)
        return None

    def serve(self, in_fd: int) -> int:
        self.send({'event': 'ready', 'pid': os.getpid(), 'hooks': sorted(self.hooks)})
        reader = os.fdopen(in_fd, 'rb', buffering=0, closefd=False)
        buffered = b''
        while True:
            chunk = reader.read(65536)
            if not chunk:
                return 0
            buffered += chunk
            *lines, buffered = buffered.split(b'\n')
            for line in lines:
                if line.strip():
                    self._answer(json.loads(line))

    def _answer(self, msg: Dict[str, Any]) -> None:
        try:
            result = self.handle(msg)
        except Exception as e:
            self.send({'id': msg.get('id'), 'ok': False, 'error': one_line(e),
                       'traceback': traceback.format_exc().rstrip()})
            return
        self.send({'id': msg.get('id'), 'ok': True, 'result': result})


def one_line(e: BaseException) -> str:
    text = str(e).splitlines()[0] if str(e) else ''
    return '%s: %s' % (type(e).__name__, text) if text else type(e).__name__


def main(argv: Optional[list] = None) -> int:
    p = argparse.ArgumentParser(prog='python -m nodicorn_worker.hookhost')
    p.add_argument('--config', required=True)
    p.add_argument('--pythonpath', action='append', default=[])
    p.add_argument('--out-fd', type=int, default=PIPE_FD)
    args = p.parse_args(argv)
    ignore_group_signals()
    for d in reversed([os.getcwd()] + args.pythonpath):
        d = os.path.abspath(d)
        if d in sys.path:
            sys.path.remove(d)
        sys.path.insert(0, d)
    try:
        host = Host(args.config, args.out_fd)
    except H.HookConfigError as e:
        report(args.out_fd, str(e))
        return 2
    except BaseException as e:
        report(args.out_fd, '%s (in the config file)' % one_line(e), traceback.format_exc())
        return 2
    return host.serve(PIPE_FD)


GROUP_SIGNALS = ('SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGTTIN', 'SIGTTOU', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH')


def ignore_group_signals() -> None:
    """A signal sent to the whole process group is Node's to handle (it calls on_exit after a
    TERM, on_reload after a HUP); the host lives until its pipe closes."""
    for name in GROUP_SIGNALS:
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)


def report(fd: int, message: str, tb: str = '', kind: str = 'config') -> None:
    """The first line, when the host cannot run: `kind` is config (exit 2) or app (exit 4)."""
    line = json.dumps({'event': 'error', 'kind': kind, 'message': message, 'traceback': tb}) + '\n'
    os.write(fd, line.encode('utf-8'))


if __name__ == '__main__':
    sys.exit(main())
