"""register_stack_dumps: SIGUSR2 writes every thread's stack into <dir>/<pid>, in a subprocess
(faulthandler's registration lasts for the process)."""
import os
import subprocess
import sys
import tempfile
import unittest

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHILD = r'''
import os, signal, sys, threading, time
from nodicorn_worker.__main__ import register_stack_dumps

def parked_in_a_thread():
    time.sleep(30)

register_stack_dumps(sys.argv[1])
threading.Thread(target=parked_in_a_thread, daemon=True).start()
time.sleep(0.2)
os.kill(os.getpid(), signal.SIGUSR2)
print('alive')
'''


@unittest.skipUnless(hasattr(__import__('signal'), 'SIGUSR2'), 'no SIGUSR2 here')
class StackDumpsTest(unittest.TestCase):
    def test_sigusr2_dumps_every_thread_and_the_process_lives_on(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            proc = subprocess.run([sys.executable, '-c', CHILD, d], capture_output=True, text=True,
                                  timeout=20, env=dict(os.environ, PYTHONPATH=PYTHON_DIR))
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertEqual(proc.stdout.strip(), 'alive')
            files = os.listdir(d)
            self.assertEqual(len(files), 1)
            with open(os.path.join(d, files[0])) as f:
                dump = f.read()
            self.assertIn('in parked_in_a_thread', dump)
            self.assertIn('Current thread', dump)
            self.assertEqual(os.stat(os.path.join(d, files[0])).st_mode & 0o777, 0o600)

    def test_an_unwritable_directory_means_no_dumps_not_a_failed_boot(self) -> None:
        import contextlib
        import io
        from nodicorn_worker.__main__ import register_stack_dumps
        said = io.StringIO()
        with contextlib.redirect_stderr(said):
            register_stack_dumps(os.path.join(tempfile.gettempdir(), 'no-such-dir-nodicorn', 'x'))
        self.assertIn('no stack dumps', said.getvalue())


if __name__ == '__main__':
    unittest.main()
