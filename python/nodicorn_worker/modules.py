"""--reload: tells Node which source files this worker has loaded, so Node can watch them.

As gunicorn's reloader does, the files are those of every module in sys.modules (a compiled
.pyc stands for its .py), checked again every second so that modules imported late (a Django
view on its first request) are watched too. Only paths not reported before are sent.
"""
import os
import re
import sys
import threading
import time
import traceback
from typing import Callable, Iterable, List, Optional, Set

from . import protocol as P

INTERVAL = 1.0
_COMPILED = re.compile(r'\.py[co]$')


def loaded_files() -> Set[str]:
    files = set()
    for module in tuple(sys.modules.values()):
        name = getattr(module, '__file__', None)
        if isinstance(name, str) and name:
            files.add(os.path.abspath(_COMPILED.sub('.py', name)))
    return files


def failure_files(error: BaseException) -> Set[str]:
    """The files a failed import names: the one a SyntaxError is in, and each traceback frame's.
    A module that failed to import is not in sys.modules, yet fixing it must trigger a reload."""
    # AppLoadError is raised while handling the import's own exception: that one is the context.
    cause = error.__cause__ or error.__context__ or error
    files = set()
    filename = getattr(cause, 'filename', None)
    if isinstance(cause, SyntaxError) and isinstance(filename, str):
        files.add(os.path.abspath(filename))
    for frame in traceback.extract_tb(cause.__traceback__):
        if frame.filename and not frame.filename.startswith('<'):
            files.add(os.path.abspath(frame.filename))
    return files


class ModuleReporter:
    """Sends MODULES frames through `send` with the paths it has not sent yet."""

    def __init__(self, send: Callable[[bytes], None]) -> None:
        self._send = send
        self._sent: Set[str] = set()
        self._lock = threading.Lock()

    def report(self, files: Iterable[str]) -> None:
        with self._lock:
            new: List[str] = sorted(f for f in files if f not in self._sent and os.path.isfile(f))
            if not new:
                return
            self._sent.update(new)
        self._send(P.encode_paths(P.MODULES, 0, new))

    def start(self, interval: Optional[float] = None) -> None:
        """Checks sys.modules again every `interval` seconds, in a daemon thread."""
        period = INTERVAL if interval is None else interval

        def run() -> None:
            while True:
                time.sleep(period)
                try:
                    self.report(loaded_files())
                except OSError:
                    return  # the pipe is gone: the worker is exiting
        threading.Thread(target=run, name='nodicorn-modules', daemon=True).start()
