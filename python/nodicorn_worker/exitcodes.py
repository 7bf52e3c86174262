"""Exit codes shared with Node (the mirror of ExitCode in src/errors.ts), and the one way out.

Node reads them to decide what a worker's death means: a boot failure (3, 4) stops the server
instead of respawning a worker that can only fail again.
"""

import os
import sys
from typing import NoReturn

OK = 0
UNEXPECTED = 1
# A bad flag, env var or config file value (argparse also exits 2 on bad argv).
USAGE = 2
# The worker itself could not start (bad interpreter, missing fd, protocol mismatch).
WORKER_BOOT = 3
# The app could not be imported or is not callable.
APP_LOAD = 4


def flush_and_exit(code: int) -> "NoReturn":
    """Leaves at once (no atexit, no thread joins: an app thread may hang), with what print()
    left in Python's buffers written first, since the lines may explain the exit."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:
        pass
    os._exit(code)
