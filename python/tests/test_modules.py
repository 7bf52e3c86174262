"""--report-modules: the worker tells Node which source files to watch for --reload (MODULES)."""
import os
import shutil
import tempfile
import time
import unittest

from nodicorn_worker import protocol as P

from .base import POSIX
from .workerproc import Worker

APP = '''
def app(environ, start_response):
    if environ['PATH_INFO'] == '/late':
        import late_module  # imported on a request, as Django imports views
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'ok']
'''


@unittest.skipUnless(POSIX, 'the harness needs POSIX fd passing')
class ReportModules(unittest.TestCase):
    def setUp(self):
        self.dir = os.path.realpath(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.dir)
        self.write('app.py', APP)
        self.write('late_module.py', 'VALUE = 1\n')

    def write(self, name, text):
        with open(os.path.join(self.dir, name), 'w') as f:
            f.write(text)
        return os.path.join(self.dir, name)

    def paths_until(self, w, last_type):
        """Paths of the MODULES frames that come before the first frame of `last_type`."""
        paths = []
        while True:
            f = w.frame()
            if f.type == last_type:
                return paths, f
            self.assertEqual(f.type, P.MODULES, f)
            paths.extend(P.decode_paths(f.payload))

    def test_loaded_files_come_before_ready_and_late_imports_follow(self):
        with Worker('app:app', extra=('--report-modules',), cwd=self.dir) as w:
            paths, _ = self.paths_until(w, P.READY)
            self.assertIn(os.path.join(self.dir, 'app.py'), paths)
            self.assertNotIn(os.path.join(self.dir, 'late_module.py'), paths)
            self.assertTrue(all(os.path.isabs(p) and not p.endswith('.pyc') for p in paths), paths)
            self.assertEqual(len(paths), len(set(paths)))
            w.request(1, {'PATH_INFO': '/late'})
            self.assertEqual(w.response(1)[0], 200)
            # The next check of sys.modules (every second) sends only what is new.
            deadline = time.monotonic() + 5
            late = []
            while not late and time.monotonic() < deadline:
                f = w.frame(timeout=5)
                self.assertEqual(f.type, P.MODULES, f)
                late = P.decode_paths(f.payload)
            self.assertIn(os.path.join(self.dir, 'late_module.py'), late)
            self.assertFalse(set(late) & set(paths), 'a path was sent twice')

    def test_a_syntax_error_names_the_broken_file_before_boot_error(self):
        self.write('app.py', 'import broken\n' + APP)
        broken = self.write('broken.py', 'def oops(:\n')
        w = Worker('app:app', extra=('--report-modules',), cwd=self.dir)
        paths, f = self.paths_until(w, P.BOOT_ERROR)
        w.close()
        self.assertEqual(f.json()['type'], 'SyntaxError')
        self.assertIn(broken, paths)
        self.assertIn(os.path.join(self.dir, 'app.py'), paths)

    def test_without_the_flag_nothing_is_reported(self):
        with Worker('app:app', cwd=self.dir) as w:
            self.assertEqual(w.frame().type, P.READY)
            w.request(1, {'PATH_INFO': '/late'})
            self.assertEqual(w.response(1)[0], 200)
            self.assertTrue(w.no_frame(wait=1.5))


if __name__ == '__main__':
    unittest.main()
