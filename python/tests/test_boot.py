"""Boot: argv, app specs, BOOT_ERROR and exit codes, the make_server stand-in, EOF."""
import os
import subprocess
import sys
import time
import unittest

from nodicorn_worker import exitcodes
from nodicorn_worker import protocol as P
from nodicorn_worker.appload import split_spec, parse_attr, AppLoadError

from .base import POSIX
from .workerproc import APPS_DIR, PYTHON_DIR, Worker


@unittest.skipUnless(POSIX, 'the harness needs POSIX fd passing')
class Specs(unittest.TestCase):
    def serve_one(self, spec, extra=(), cwd=None):
        with Worker(spec, extra=extra, cwd=cwd) as w:
            w.ready()
            w.request(1, {})
            status, _, _, body, last = w.response(1)
            self.assertEqual(last.type, P.END, last.payload)
            code = w.close()
            self.assertEqual(code, 0)
            return body, w.stderr_text()

    def test_module_alone_uses_application(self):
        self.assertEqual(self.serve_one('hello')[0], b'Hello my friend!')

    def test_module_colon_attr(self):
        self.assertEqual(self.serve_one('hello:application')[0], b'Hello my friend!')

    def test_dotted_attr(self):
        self.assertEqual(self.serve_one('factory:Holder.app')[0], b'dotted')

    def test_factory_with_literal_args(self):
        self.assertEqual(self.serve_one("factory:create('hi', excl=True, repeat=2)")[0], b'hi!hi!')
        self.assertEqual(self.serve_one('factory:create("a:b")')[0], b'a:b')

    def test_file_path(self):
        path = os.path.join(APPS_DIR, 'hello.py')
        self.assertEqual(self.serve_one(path, cwd=PYTHON_DIR)[0], b'Hello my friend!')
        self.assertEqual(self.serve_one(path + ':application', cwd=PYTHON_DIR)[0], b'Hello my friend!')
        self.assertEqual(self.serve_one('apps/hello.py', cwd=os.path.dirname(APPS_DIR))[0], b'Hello my friend!')

    def test_pythonpath(self):
        self.assertEqual(self.serve_one('onpath', extra=('--pythonpath', 'extra'))[0], b'from --pythonpath')

    def test_tutorial_file_with_its_own_server(self):
        for spec in ('web_application', 'web_application.py', 'web_application:hello_app'):
            with self.subTest(spec):
                body, err = self.serve_one(spec)
                self.assertEqual(body, b'Hello my friend!')
                self.assertEqual(err.count('skipped'), 1, err)

    def test_make_server_is_restored(self):
        # The app's own later use of make_server (e.g. in a request) must get the real one.
        import wsgiref.simple_server as ss
        from nodicorn_worker import appload
        real = ss.make_server
        sys.path.insert(0, APPS_DIR)
        import contextlib
        import io
        try:
            with contextlib.redirect_stderr(io.StringIO()) as err:
                app = appload.load('web_application')
        finally:
            sys.path.remove(APPS_DIR)
            sys.modules.pop('web_application', None)
        self.assertIs(ss.make_server, real)
        self.assertEqual(app.__name__, 'hello_app')
        self.assertIn('skipped', err.getvalue())


@unittest.skipUnless(POSIX, 'the harness needs POSIX fd passing')
class BootErrors(unittest.TestCase):
    def boot_error(self, spec, code=exitcodes.APP_LOAD):
        w = Worker(spec)
        f = w.frame()
        self.assertEqual(f.type, P.BOOT_ERROR, f)
        self.assertEqual(f.id, 0)
        self.assertEqual(w.close(), code)
        error = f.json()
        self.assertEqual(set(error), {'type', 'message', 'traceback'})
        return error

    def test_module_not_found(self):
        e = self.boot_error('nope_no_such_module')
        self.assertEqual(e['type'], 'ModuleNotFoundError')
        self.assertIn('module not found', e['message'])
        self.assertIn('nope_no_such_module', e['traceback'])

    def test_missing_dependency_inside_the_app(self):
        e = self.boot_error('import_fails')
        self.assertEqual(e['type'], 'ModuleNotFoundError')
        self.assertIn('nodicorn_test_missing_dependency', e['message'])
        self.assertNotIn('module not found', e['message'])

    def test_exception_at_import(self):
        e = self.boot_error('raises_at_import')
        self.assertEqual(e['type'], 'ZeroDivisionError')
        self.assertIn('1 / 0', e['traceback'])

    def test_no_attribute(self):
        e = self.boot_error('factory:nothing_here')
        self.assertIn("no attribute 'nothing_here' in module 'factory'", e['message'])
        e = self.boot_error('factory')
        self.assertIn("no attribute 'application' in module 'factory'", e['message'])

    def test_not_callable(self):
        e = self.boot_error('factory:not_an_app')
        self.assertIn('not_an_app', e['message'])
        self.assertIn('not callable', e['message'])

    def test_factory_call_failed(self):
        e = self.boot_error('factory:broken_factory()')
        self.assertIn('factory call failed', e['message'])
        self.assertEqual(e['type'], 'RuntimeError')
        self.assertIn('no database configured', e['traceback'])

    def test_factory_args_must_be_literals(self):
        e = self.boot_error('factory:create(open("x"))')
        self.assertIn('literals', e['message'])

    def test_file_not_found(self):
        e = self.boot_error('no/such/file.py')
        self.assertIn('not found', e['message'])


@unittest.skipUnless(POSIX, 'the harness needs POSIX fd passing')
class Process(unittest.TestCase):
    def test_bad_argv_exits_2(self):
        for argv in ([], ['--app', 'hello', '--threads', '0'], ['--app', 'hello', '--bogus'],
                     ['--app', 'hello', '--multiprocess', '2']):
            with self.subTest(argv=argv):
                w = Worker('hello', extra=argv) if argv else None
                if w is None:
                    env = dict(os.environ, PYTHONPATH=PYTHON_DIR)
                    p = subprocess.run([sys.executable, '-m', 'nodicorn_worker'], env=env,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
                    self.assertEqual(p.returncode, exitcodes.USAGE)
                else:
                    self.assertEqual(w.close(), exitcodes.USAGE)

    def test_no_pipe_exits_3(self):
        env = dict(os.environ, PYTHONPATH=PYTHON_DIR)
        p = subprocess.run([sys.executable, '-m', 'nodicorn_worker', '--app', 'hello'], env=env, cwd=APPS_DIR,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(p.returncode, exitcodes.WORKER_BOOT, p.stderr)

    def test_eof_exits_at_once_even_mid_request(self):
        w = Worker('behaviours')
        w.ready()
        w.request(1, {'PATH_INFO': '/echo', 'CONTENT_LENGTH': '10'}, flags=P.HAS_BODY)
        time.sleep(0.1)
        start = time.monotonic()
        self.assertEqual(w.close(), 0)
        self.assertLess(time.monotonic() - start, 5)

    def test_separate_write_pipe(self):
        # --out-fd: the layout Windows needs (one pipe per direction).
        to_worker_r, to_worker_w = os.pipe()
        from_worker_r, from_worker_w = os.pipe()

        def place():
            # Via fresh fds, in case a pipe end already sits at 3 or 4.
            a, b = os.dup(to_worker_r), os.dup(from_worker_w)
            os.dup2(a, 3)
            os.dup2(b, 4)
        env = dict(os.environ, PYTHONPATH=PYTHON_DIR)
        proc = subprocess.Popen([sys.executable, '-m', 'nodicorn_worker', '--app', 'hello', '--threads', '1',
                                 '--out-fd', '4'], cwd=APPS_DIR, env=env, close_fds=False, preexec_fn=place)
        os.close(to_worker_r)
        os.close(from_worker_w)
        try:
            os.write(to_worker_w, P.encode_request(1, 0, [('REQUEST_METHOD', 'GET'), ('PATH_INFO', '/')]))
            reader = P.FrameReader()
            frames = []
            while not frames or frames[-1][0] != P.END:
                chunk = os.read(from_worker_r, 65536)
                self.assertTrue(chunk)
                frames.extend(reader.push(chunk))
            self.assertEqual([t for t, _, _ in frames], [P.READY, P.RESPONSE_HEAD, P.RESPONSE_BODY, P.END])
        finally:
            os.close(to_worker_w)
            self.assertEqual(proc.wait(10), 0)
            os.close(from_worker_r)

    def test_sigint_is_ignored(self):
        import signal
        w = Worker('hello')
        w.ready()
        w.proc.send_signal(signal.SIGINT)
        w.request(1, {})
        self.assertEqual(w.response(1)[3], b'Hello my friend!')
        self.assertEqual(w.close(), 0)

    def test_print_in_app_does_not_touch_frames(self):
        w = Worker('behaviours', extra=('--name', 'w1'))
        w.ready()
        w.request(1, {'PATH_INFO': '/print'})
        self.assertEqual(w.response(1)[3], b'printed')
        self.assertEqual(w.close(), 0)
        self.assertIn('printed by the app', w._out)


class SpecParsing(unittest.TestCase):
    def test_split(self):
        self.assertEqual(split_spec('a.b:c.d'), ('a.b', 'c.d'))
        self.assertEqual(split_spec('a'), ('a', None))
        self.assertEqual(split_spec('m:f("x:y")'), ('m', 'f("x:y")'))
        self.assertEqual(split_spec('C:\\apps\\app.py'), ('C:\\apps\\app.py', None))
        self.assertEqual(split_spec('C:\\apps\\app.py:app'), ('C:\\apps\\app.py', 'app'))

    def test_parse_attr(self):
        self.assertEqual(parse_attr('app'), ('app', None, None))
        self.assertEqual(parse_attr('a.b'), ('a.b', None, None))
        self.assertEqual(parse_attr('f()'), ('f', [], {}))
        self.assertEqual(parse_attr("m.f(1, 'x', k=(1, 2), n=None)"), ('m.f', [1, 'x'], {'k': (1, 2), 'n': None}))
        for bad in ('f(x)', 'f(**k)', '1+2', 'f(', 'a[0]', 'f()()'):
            with self.subTest(bad):
                with self.assertRaises(AppLoadError):
                    parse_attr(bad)


if __name__ == '__main__':
    unittest.main()
