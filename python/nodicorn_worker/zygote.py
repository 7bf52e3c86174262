"""--preload on Unix: the hook host that imports the app once and forks the workers from itself.

python -m nodicorn_worker.zygote --socket PATH [--config SPEC] [--capture-output] [--uid N --gid N
    [--initgroups USER]] -- WORKER ARGS

The workers share the app's memory copy-on-write: the collector is off here (gc.disable(), so
it makes no holes in the pages the workers share) and gc.freeze() runs before each fork, as the
CPython documentation advises; each worker turns the collector back on.

Beside the hook host's calls (hookhost.py), Node sends {"call": "fork", "age": N, "token": T}. The
reply is the child's pid. The child cannot inherit a pipe from Node's spawn, so it connects to
Node's private unix socket PATH (in a 0700 directory) and says "T pipe"; that connection becomes
its fd 3. With --capture-output, two more ("T out", "T err") become its stdout and stderr, so
Node logs its output with its pid. A thread per child waits for it and reports
{"event": "exit", "pid": P, "code": C, "signal": "SIGKILL" | null}.

A first line {"event": "error", "kind": "app", ...} means the app did not import (Node exits 4).
"""
import argparse
import gc
import os
import signal
import socket
import sys
import threading
import traceback
from typing import Any, Dict, List, Optional

from . import exitcodes
from . import hookhost


class Zygote(hookhost.Host):
    def __init__(self, spec: Optional[str], out_fd: int, socket_path: str, worker_argv: List[str], capture: bool,
                 owner: Optional[argparse.Namespace] = None) -> None:
        hookhost.Host.__init__(self, spec, out_fd)
        from . import __main__ as worker_main
        self.worker_main = worker_main
        self.args = worker_main.parse_args(worker_argv)
        self.socket_path = socket_path
        self.capture = capture
        self.owner = owner
        worker_main.prepend_paths([os.getcwd()] + self.args.pythonpath)
        from . import logconfig
        logconfig.setup_from_args(self.args)
        from .appload import load
        self.app = load(self.args.app)
        # What every worker imports anyway, shared too; and imported now, while the stdlib is
        # still readable (after --user it may not be).
        from . import channel, workerconfig, wsgi  # noqa: F401

    def handle(self, msg: Dict[str, Any]) -> Any:
        if msg['call'] == 'fork':
            return self.fork(msg['age'], msg['token'])
        return hookhost.Host.handle(self, msg)

    def fork(self, age: int, token: str) -> Dict[str, int]:
        gc.freeze()
        pid = os.fork()
        if pid == 0:
            self._child(age, token)
        threading.Thread(target=self._reap, args=(pid,), daemon=True).start()
        return {'pid': pid}

    def _reap(self, pid: int) -> None:
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            code, sig = None, signal.Signals(os.WTERMSIG(status)).name
        else:
            code, sig = os.WEXITSTATUS(status), None
        self.send({'event': 'exit', 'pid': pid, 'code': code, 'signal': sig})

    def _child(self, age: int, token: str) -> None:
        """The forked worker: never returns."""
        try:
            for name in hookhost.GROUP_SIGNALS:
                if hasattr(signal, name):
                    signal.signal(getattr(signal, name), signal.SIG_DFL)
            self.worker_main.worker_signals()
            # The host's pipe to Node belongs to the zygote.
            os.close(hookhost.PIPE_FD)
            if self.out_fd != hookhost.PIPE_FD:
                os.close(self.out_fd)
            self._connect(token, 'pipe', hookhost.PIPE_FD)
            if self.capture:
                self._connect(token, 'out', 1)
                self._connect(token, 'err', 2)
            # After connecting: Node's socket directory is the zygote's owner's alone.
            self._become_owner()
            gc.enable()
            args = self.args
            args.age = age
            args.master_pid = self.node_pid
            args.out_fd = hookhost.PIPE_FD
            if args.name:
                from .proctitle import set_title
                set_title(args.name)
            hooks = None
            if args.hooks:
                from .worker_hooks import WorkerHooks
                hooks = WorkerHooks(args.hooks, age, self.server.pid)
                hooks.post_fork()
            self.worker_main.serve(args, hookhost.PIPE_FD, self.app, hooks)
        except BaseException:
            try:
                sys.stderr.write('nodicorn worker: cannot boot after the fork:\n%s' % traceback.format_exc())
                sys.stderr.flush()
            finally:
                os._exit(exitcodes.WORKER_BOOT)
        os._exit(0)

    def _become_owner(self) -> None:
        """--user / --group: the worker switches to them, as gunicorn's workers do."""
        owner = self.owner
        if owner is None or owner.uid is None:
            return
        if owner.initgroups:
            os.initgroups(owner.initgroups, owner.gid)
        else:
            os.setgroups([owner.gid])
        os.setgid(owner.gid)
        os.setuid(owner.uid)

    def _connect(self, token: str, role: str, fd: int) -> None:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(self.socket_path)
        conn.sendall(('%s %s\n' % (token, role)).encode('ascii'))
        if conn.fileno() == fd:
            conn.detach()  # it got the fd it is meant to have (fd 3 was closed just before)
        else:
            os.dup2(conn.fileno(), fd)
            conn.close()


def main(argv: Optional[list] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    split = argv.index('--') if '--' in argv else len(argv)
    p = argparse.ArgumentParser(prog='python -m nodicorn_worker.zygote')
    p.add_argument('--socket', required=True)
    p.add_argument('--config', default=None)
    p.add_argument('--capture-output', action='store_true')
    p.add_argument('--out-fd', type=int, default=hookhost.PIPE_FD)
    p.add_argument('--uid', type=int, default=None)
    p.add_argument('--gid', type=int, default=None)
    p.add_argument('--initgroups', default=None, help='the user name, for initgroups()')
    args = p.parse_args(argv[:split])
    hookhost.ignore_group_signals()
    # Before anything is imported: see the module docstring.
    gc.disable()
    try:
        zygote = Zygote(args.config, args.out_fd, args.socket, argv[split + 1:], args.capture_output, args)
    except hookhost.H.HookConfigError as e:
        hookhost.report(args.out_fd, str(e))
        return 2
    except BaseException as e:
        hookhost.report(args.out_fd, hookhost.one_line(e), traceback.format_exc(), kind='app')
        return exitcodes.APP_LOAD
    return zygote.serve(hookhost.PIPE_FD)


if __name__ == '__main__':
    sys.exit(main())
