"""dumpconfig: a config file's settings, its server hooks (arity checked), python: modules."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

from nodicorn_worker import dumpconfig

SCRIPT = dumpconfig.__file__
HOOKS = 'on_starting:1-1,post_fork:2-2,post_request:3-4'


def run(config: str, cwd: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, SCRIPT, config, *extra], cwd=cwd, capture_output=True, text=True, timeout=60)


class DumpConfig(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp()

    def write(self, name: str, text: str) -> str:
        path = os.path.join(self.dir, name)
        with open(path, 'w') as f:
            f.write(text)
        return path

    def test_values_hooks_and_classes(self) -> None:
        path = self.write('gunicorn.conf.py', (
            'import logging\n'
            'workers = 2 * 2\n'
            'class MyLogger(logging.Logger):\n    pass\n'
            'logger_class = MyLogger\n'
            'def helper():\n    pass\n'
            'def on_starting(server):\n    print("runs at load? no")\n'
            'def post_request(worker, req, environ):\n    pass\n'
        ))
        r = run(path, self.dir, '--hooks', HOOKS)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual(out['values'], {'workers': 4, 'logger_class': '__config__.MyLogger'})
        self.assertEqual(sorted(out['hooks']), ['on_starting', 'post_request'])
        self.assertEqual(out['unserializable'], [])

    def test_a_hook_with_the_wrong_arity_is_an_error(self) -> None:
        path = self.write('c.py', 'def post_fork(server):\n    pass\n')
        r = run(path, self.dir, '--hooks', HOOKS)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('TypeError: server hook post_fork must take 2 positional arguments', r.stderr.strip().splitlines()[-1])

    def test_python_module(self) -> None:
        self.write('deploy_conf.py', 'bind = ["unix:/tmp/app.sock"]\ndef when_ready(server):\n    pass\n')
        r = run('python:deploy_conf', self.dir, '--hooks', 'when_ready:1-1')
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual(out['values'], {'bind': ['unix:/tmp/app.sock']})
        self.assertEqual(out['hooks'], ['when_ready'])


if __name__ == '__main__':
    unittest.main()
