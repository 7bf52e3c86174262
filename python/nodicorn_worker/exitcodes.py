"""Exit codes shared with Node: the mirror of ExitCode in src/errors.ts.

Node reads them to decide what a worker's death means: a boot failure (3, 4) stops the server
instead of respawning a worker that can only fail again.
"""

OK = 0
UNEXPECTED = 1
# A bad flag, env var or config file value (argparse also exits 2 on bad argv).
USAGE = 2
# The worker itself could not start (bad interpreter, missing fd, protocol mismatch).
WORKER_BOOT = 3
# The app could not be imported or is not callable.
APP_LOAD = 4
