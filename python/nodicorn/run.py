"""Runs the nodicorn server as a child of this Python process, for serve() and make_server().

Unlike the `nodicorn` script, which becomes the server (exec), these calls block and return (or
raise) when the server stops, so the Python process stays and passes the master's signals on: a
`kill -TERM` or `kill -HUP` sent to the script reaches the server as it would reach gunicorn's
master. Ctrl+C reaches both processes from the terminal; the server stops gracefully, a second
Ctrl+C stops it at once, and serve() then raises KeyboardInterrupt as waitress's does.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from typing import Any, Dict, List

from nodicorn.appref import AppRef
from nodicorn.launcher import server_command

# The master's signals (src/process/signals.ts), passed on while the server runs. INT is not:
# Python turns it into KeyboardInterrupt, handled in wait().
FORWARDED = [getattr(signal, name) for name in ("SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGTTIN", "SIGTTOU", "SIGWINCH") if hasattr(signal, name)]


def inside_worker() -> bool:
    """Whether this process is a nodicorn worker importing the app (serve() must return at once)."""
    appload = sys.modules.get("nodicorn_worker.appload")
    return appload is not None and bool(getattr(appload, "loading_app", lambda: False)())


class ServerProcess:
    """The server started with `args` for the app at `ref`; wait() blocks until it exits."""

    def __init__(self, args: List[str], ref: AppRef) -> None:
        command, env = server_command([*args, ref.spec])
        if ref.path:
            # The workers import the app's module from where this process imported it.
            inherited = env.get("PYTHONPATH")
            env["PYTHONPATH"] = ref.path + (os.pathsep + inherited if inherited else "")
        sys.stdout.flush()
        sys.stderr.flush()
        self.proc = subprocess.Popen(command, env=env)

    def signal(self, signum: int) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signum)
            except ProcessLookupError:
                pass

    def stop(self) -> None:
        """Graceful stop, as SIGTERM to the master."""
        self.signal(signal.SIGTERM)

    def wait(self) -> int:
        """The server's exit status (a negative signal number when a signal ended it)."""
        previous: Dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for signum in FORWARDED:
                previous[signum] = signal.signal(signum, lambda n, _frame: self.signal(n))
        interrupted = 0
        try:
            while True:
                try:
                    code = self.proc.wait()
                    break
                except KeyboardInterrupt:
                    interrupted += 1
                    self.signal(signal.SIGINT if interrupted == 1 else getattr(signal, "SIGQUIT", signal.SIGTERM))
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        if interrupted:
            raise KeyboardInterrupt
        return code


def exit_on_failure(code: int, caller: str) -> None:
    """A server that stopped on its own with an error ends the script with its status, as the CLI would."""
    if code > 0:
        sys.stderr.write(f"nodicorn: {caller}: the server exited with status {code}\n")
        raise SystemExit(code)


def run(args: List[str], ref: AppRef, caller: str) -> None:
    exit_on_failure(ServerProcess(args, ref).wait(), caller)
