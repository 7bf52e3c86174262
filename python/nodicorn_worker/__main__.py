"""Worker entry point: python -m nodicorn_worker --app SPEC --threads T [options].

Boot: check the pipe, import the app, start the app threads, say READY (or BOOT_ERROR and exit
APP_LOAD / WORKER_BOOT). Then the main thread reads the pipe until EOF, which means the parent is
gone: exit at once, whatever the app threads are doing.
"""
from __future__ import annotations

import argparse
import os
import platform
import signal
import sys
import traceback
from typing import TYPE_CHECKING, Any, Callable, List, NoReturn, Optional

from . import exitcodes
from . import logconfig
from . import protocol as P
from .modules import ModuleReporter, failure_files, loaded_files

if TYPE_CHECKING:  # imported only by a worker that has hooks
    from .worker_hooks import WorkerHooks

PIPE_FD = 3


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # argparse already exits 2; say so through the shared table, not by accident.
        self.print_usage(sys.stderr)
        sys.stderr.write('%s: error: %s\n' % (self.prog, message))
        sys.exit(exitcodes.USAGE)


def _positive_int(text):
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError('expected a positive integer, got %r' % text)
    if n < 1:
        raise argparse.ArgumentTypeError('expected a positive integer, got %r' % text)
    return n


def parse_args(argv: List[str]) -> argparse.Namespace:
    p = _Parser(prog='python -m nodicorn_worker',
                description='A nodicorn worker: runs a WSGI app for the Node core over fd 3.')
    p.add_argument('--app', required=True, help='module:attr, module, module:factory(...) or file.py[:attr]')
    p.add_argument('--threads', type=_positive_int, default=1)
    p.add_argument('--multiprocess', choices=('0', '1'), default='0')
    p.add_argument('--name', default=None, help="gunicorn's proc_name: the process title and thread names")
    p.add_argument('--no-sendfile', action='store_true',
                   help='send wsgi.file_wrapper files through the pipe, not as FILE frames')
    p.add_argument('--pythonpath', action='append', default=[], help='put DIR first on sys.path')
    logconfig.add_arguments(p)
    p.add_argument('--report-modules', action='store_true',
                   help='send the loaded source files to Node (MODULES frames), for --reload')
    p.add_argument('--hooks', default=None, help='the config file (or python:module) whose worker-side hooks to call')
    p.add_argument('--age', type=int, default=0, help="the worker's number, counting from 1 (worker.age)")
    p.add_argument('--master-pid', type=int, default=0, help="Node's pid (default: the parent's)")
    p.add_argument('--stacks-dir', default=None,
                   help='dump every thread\'s stack into DIR/<pid> on SIGUSR2 (faulthandler)')
    # Not used by Node today: a separate write fd, for platforms where one synchronous pipe
    # handle cannot be read and written at once by two threads (see channel.py, on Windows).
    p.add_argument('--out-fd', type=int, default=PIPE_FD, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _boot_error(fd, error, code, report_modules=False):
    """Reports a failed boot on the pipe (when there is one) and on stderr, then exits."""
    if report_modules and fd is not None:
        # Before BOOT_ERROR: the file to fix is among these, and fixing it must trigger a reload.
        try:
            ModuleReporter(lambda frame: _write_all(fd, frame)).report(loaded_files() | failure_files(error))
        except OSError:
            pass
    kind = getattr(error, 'kind', None) or type(error).__name__
    tb = getattr(error, 'traceback', None)
    if tb is None:
        tb = ''.join(traceback.format_exception(type(error), error, error.__traceback__))
    message = str(error)
    sys.stderr.write('nodicorn worker: cannot boot: %s\n%s' % (message, tb))
    if fd is not None:
        try:
            frame = P.encode_json(P.BOOT_ERROR, 0, {'type': kind, 'message': message, 'traceback': tb})
            _write_all(fd, frame)
        except OSError:
            pass
    exitcodes.flush_and_exit(code)


def _can_open_node_files(master_pid):
    """Whether Node's open files can be opened here through /proc/<pid>/fd (Linux, same user):
    then Node hands a spooled request body over as its temp file (BODY_FILE) instead of sending
    its bytes down the pipe."""
    try:
        os.listdir('/proc/%d/fd' % master_pid)
    except (OSError, AttributeError):
        return False
    return True


def prepend_paths(dirs: List[str]) -> None:
    # Last given ends up last among them: --pythonpath a --pythonpath b gives [cwd, a, b, ...].
    for d in reversed(dirs):
        d = os.path.abspath(d)
        if d in sys.path:
            sys.path.remove(d)
        sys.path.insert(0, d)


def _wait_for_master(signum: int, frame: object) -> None:
    """SIGTERM. The master stops this worker itself: it closes the pipe once the requests in
    flight are answered (or kills it). A TERM that reaches the worker was sent to the whole
    process group (systemd's KillMode=control-group, `timeout`, `kill -TERM -PGID`), so the master
    got it too and is draining: the worker keeps serving until then. A handler, not SIG_IGN,
    because an ignored signal stays ignored in the programs the app starts."""


def worker_signals() -> None:
    # Node handles Ctrl-C for the whole process group and then closes our pipe; Node's kill is
    # SIGKILL.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _wait_for_master)


def register_stack_dumps(stacks_dir: Optional[str]) -> None:
    """SIGUSR2 dumps every thread's stack into stacks_dir/<pid>, which Node reads into the error
    log (before a timeout's kill, or on SIGURG to the master). faulthandler writes from its C
    signal handler: it works while the app thread holds the GIL. O_APPEND because Node empties
    the file after each read. Without the directory (another user owns it), no dumps."""
    if not stacks_dir or not hasattr(signal, 'SIGUSR2'):
        return
    import faulthandler
    try:
        fd = os.open(os.path.join(stacks_dir, str(os.getpid())),
                     os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC, 0o600)
    except OSError as e:
        sys.stderr.write('nodicorn worker: no stack dumps: %s\n' % e)
        return
    faulthandler.register(signal.SIGUSR2, file=fd, all_threads=True, chain=False)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    worker_signals()
    if args.name:
        from .proctitle import set_title
        set_title(args.name)

    out_fd = args.out_fd
    try:
        os.fstat(PIPE_FD)
        if out_fd != PIPE_FD:
            os.fstat(out_fd)
    except OSError as e:
        sys.stderr.write('nodicorn worker: no protocol pipe on fd %d (%s); this program is started '
                         'by nodicorn, not by hand\n' % (PIPE_FD, e))
        exitcodes.flush_and_exit(exitcodes.WORKER_BOOT)

    try:
        prepend_paths([os.getcwd()] + args.pythonpath)
    except Exception as e:
        _boot_error(out_fd, e, exitcodes.WORKER_BOOT)

    # Before the app is imported, as gunicorn's master configures logging before forking.
    try:
        logconfig.setup_from_args(args)
    except Exception as e:
        _boot_error(out_fd, e, exitcodes.WORKER_BOOT)

    hooks = None
    if args.hooks:
        try:
            from .worker_hooks import WorkerHooks
            hooks = WorkerHooks(args.hooks, args.age, args.master_pid or os.getppid())
            hooks.post_fork()
        except BaseException as e:
            _boot_error(out_fd, e, exitcodes.WORKER_BOOT)

    from .appload import AppLoadError, load
    try:
        app = load(args.app)
    except AppLoadError as e:
        _boot_error(out_fd, e, exitcodes.APP_LOAD, args.report_modules)
    except BaseException as e:
        _boot_error(out_fd, e, exitcodes.APP_LOAD, args.report_modules)
    serve(args, out_fd, app, hooks)


def serve(args: argparse.Namespace, out_fd: int, app: Callable[..., Any],
          hooks: Optional[WorkerHooks]) -> NoReturn:
    """Runs the loaded app on the pipe until EOF, then exits (also the entry of a forked worker)."""
    request_class = None
    try:
        from . import wsgi
        from .channel import Channel
        from .workerconfig import WorkerConfig
        request_class = wsgi.WsgiRequest
        if hooks is not None:
            hooks.post_worker_init(app)
            app = hooks.wrap_app(app)
            request_class = hooks.request_class()
            hooks.install_signals()
            from . import channel as channel_module
            channel_module.before_exit = hooks.worker_exit
        register_stack_dumps(args.stacks_dir)
        request_class.bind(WorkerConfig(app, args.threads, args.multiprocess == '1',
                                        sendfile=not args.no_sendfile))
        # One app thread: the main thread runs the app between reads (see Channel.inline).
        # Not on Windows, where select() cannot look at a pipe (Channel.poll needs it).
        inline = args.threads == 1 and os.name == 'posix'
        channel = Channel(PIPE_FD, out_fd, request_class, request_class.__call__, inline)
        if not inline:
            channel.start_threads(args.threads, args.name or 'nodicorn')
        if args.report_modules:
            reporter = ModuleReporter(channel.send)
            reporter.report(loaded_files())
            reporter.start()
        channel.send(P.encode_json(P.READY, 0, {
            'pid': os.getpid(), 'python': platform.python_version(), 'threads': args.threads,
            'body_files': _can_open_node_files(args.master_pid or os.getppid())}))
    except BaseException as e:
        _boot_error(out_fd, e, exitcodes.WORKER_BOOT)

    code = channel.serve()
    if hooks is not None:
        hooks.worker_exit()
    exitcodes.flush_and_exit(code)


if __name__ == '__main__':
    main()
