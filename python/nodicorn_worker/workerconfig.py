"""WorkerConfig: what every request of one worker shares, built once at startup by __main__."""
from __future__ import annotations

from typing import Any, Callable, NamedTuple


# A NamedTuple, not a frozen dataclass: as immutable and typed, without importing dataclasses
# (and inspect) at every worker boot.
class WorkerConfig(NamedTuple):
    app: Callable[..., Any]
    threads: int = 1
    # wsgi.multiprocess: more than one worker process serves the app.
    multiprocess: bool = False
    # False with --no-sendfile: files go through the pipe as RESPONSE_BODY, never as FILE frames.
    sendfile: bool = True
