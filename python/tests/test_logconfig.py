"""Python logging in the worker: gunicorn's loggers by default, and the log configs applied.

Each case runs in a child interpreter: logging's state is process-wide."""
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import unittest

from .workerproc import PYTHON_DIR


def run(setup_call, body):
    """Runs `setup_call` (a call of logconfig.setup) then `body`; returns (stdout, stderr)."""
    code = 'import logging\nfrom nodicorn_worker import logconfig\n%s\n%s\n' % (setup_call, textwrap.dedent(body))
    env = dict(os.environ, PYTHONPATH=PYTHON_DIR)
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env, timeout=60)
    if r.returncode != 0:
        raise AssertionError('child failed (%d): %s' % (r.returncode, r.stderr))
    return r.stdout, r.stderr


class Defaults(unittest.TestCase):
    def test_gunicorn_error_logger_as_under_gunicorn(self):
        out, err = run("logconfig.setup('warning')", """
            g = logging.getLogger('gunicorn.error')
            print(g.level, g.propagate, len(g.handlers), len(logging.getLogger().handlers))
            a = logging.getLogger('gunicorn.access')
            print(a.level, a.propagate)
            g.info('hidden')
            g.error('two\\nlines')
        """)
        self.assertEqual(out.splitlines(), ['30 False 1 0', '20 False'])
        # Each line carries its severity for Node; the info line is below --log-level.
        self.assertEqual(err, '<3>two\n<3>lines\n')

    def test_an_app_logger_without_config_reaches_stderr_unmarked(self):
        # No handler anywhere: Python's last resort prints warnings and up, as under gunicorn.
        _, err = run("logconfig.setup('info')", """
            logging.getLogger('myapp').info('not shown')
            logging.getLogger('myapp').warning('careful')
        """)
        self.assertEqual(err, 'careful\n')

    def test_uncaptured_lines_have_gunicorns_form_or_nodicorns_json(self):
        _, err = run("logconfig.setup('info', captured=False)", """
            logging.getLogger('gunicorn.error').warning('plain')
        """)
        self.assertRegex(err, r'^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] \[\d+\] \[WARNING\] plain\n$')
        out, err = run("logconfig.setup('info', captured=False, json_lines=True)", """
            import os
            logging.getLogger('gunicorn.error').error('as json')
            print(os.getpid())
        """)
        record = json.loads(err)
        self.assertEqual(set(record), {'time', 'level', 'pid', 'message'})
        self.assertEqual((record['level'], record['pid'], record['message']), ('error', int(out), 'as json'))
        self.assertRegex(record['time'], r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$')

    def test_the_flask_recipe_gets_levels(self):
        _, err = run("logconfig.setup('debug')", """
            g = logging.getLogger('gunicorn.error')
            app = logging.getLogger('flaskapp')
            app.handlers = g.handlers
            app.setLevel(g.level)
            app.debug('dbg')
            app.info('inf')
        """)
        self.assertEqual(err, '<7>dbg\n<6>inf\n')


class Configs(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix='nodicorn-logconfig-')
        self.logfile = os.path.join(self.dir, 'app.log')

    def read_log(self):
        with open(self.logfile) as f:
            return f.read()

    def test_dict_config_sends_an_app_logger_to_a_file_and_root_to_stdout(self):
        config = {
            'formatters': {'plain': {'format': '%(name)s %(levelname)s %(message)s'}},
            'handlers': {
                'console': {'class': 'logging.StreamHandler', 'stream': 'ext://sys.stdout'},
                'file': {'class': 'logging.FileHandler', 'filename': self.logfile, 'formatter': 'plain'},
            },
            'loggers': {'myapp': {'level': 'DEBUG', 'handlers': ['file'], 'propagate': False}},
        }
        out, _ = run('logconfig.setup("info", config_dict=%r)' % json.dumps(config), """
            logging.getLogger('myapp').debug('to the file')
            logging.getLogger('other').info('to stdout')
        """)
        self.assertEqual(self.read_log(), 'myapp DEBUG to the file\n')
        self.assertEqual(out, 'to stdout\n')

    def test_dict_config_defaults_are_gunicorns(self):
        # Only "loggers" given: gunicorn's root (INFO, console on stdout) stays.
        config = {'loggers': {'myapp': {'level': 'DEBUG'}}}
        out, err = run('logconfig.setup("info", config_dict=%r)' % json.dumps(config), """
            logging.getLogger('myapp').debug('debug via root')
            logging.getLogger('x').info('info via root')
            logging.getLogger('gunicorn.error').warning('error log')
        """)
        self.assertEqual(out, '<7>debug via root\n<6>info via root\n')
        self.assertEqual(err, '<4>error log\n')

    def test_json_file(self):
        path = os.path.join(self.dir, 'log.json')
        with open(path, 'w') as f:
            # "handlers" replaces gunicorn's whole default set, so "loggers" must too (as under
            # gunicorn, whose default loggers name its default handlers).
            json.dump({'handlers': {'console': {'class': 'logging.FileHandler', 'filename': self.logfile}},
                       'loggers': {},
                       'root': {'level': 'WARNING', 'handlers': ['console']}}, f)
        run('logconfig.setup("info", config_json=%r)' % path, """
            logging.getLogger('a').info('dropped')
            logging.getLogger('a').warning('kept')
        """)
        self.assertEqual(self.read_log(), 'kept\n')

    def test_file_config_with_here(self):
        path = os.path.join(self.dir, 'logging.ini')
        with open(path, 'w') as f:
            f.write(textwrap.dedent("""\
                [loggers]
                keys=root,myapp
                [handlers]
                keys=file
                [formatters]
                keys=plain
                [logger_root]
                level=WARNING
                handlers=
                [logger_myapp]
                level=INFO
                handlers=file
                qualname=myapp
                propagate=0
                [handler_file]
                class=FileHandler
                formatter=plain
                args=('%(here)s/app.log',)
                [formatter_plain]
                format=[%(levelname)s] %(message)s
                """))
        run('logconfig.setup("info", config_file=%r)' % path, """
            logging.getLogger('myapp').info('from the ini')
        """)
        self.assertEqual(self.read_log(), '[INFO] from the ini\n')

    def test_a_bad_dict_names_the_flag(self):
        out, _ = run('', """
            try:
                logconfig.setup('info', config_dict='{"handlers": {"h": {"class": "no.such.Handler"}}}')
            except logconfig.LogConfigError as e:
                print(e)
        """)
        self.assertTrue(out.startswith('--log-config-dict: '), out)


    def test_reopen_files_follows_a_rotation(self):
        config = {'handlers': {'file': {'class': 'logging.FileHandler', 'filename': self.logfile}},
                  'loggers': {'myapp': {'level': 'INFO', 'handlers': ['file'], 'propagate': False}},
                  'root': {'handlers': []}}
        run('logconfig.setup("info", config_dict=%r)' % json.dumps(config), """
            import os
            log = logging.getLogger('myapp')
            log.info('one')
            os.rename(%r, %r)
            logconfig.reopen_files()
            log.info('two')
        """ % (self.logfile, self.logfile + '.1'))
        self.assertEqual(self.read_log(), 'two\n')
        with open(self.logfile + '.1') as f:
            self.assertEqual(f.read(), 'one\n')


    def probe(self, *args):
        env = dict(os.environ, PYTHONPATH=PYTHON_DIR)
        r = subprocess.run([sys.executable, '-m', 'nodicorn_worker.logconfig'] + list(args),
                           capture_output=True, text=True, env=env, timeout=60, cwd=self.dir)
        return r.returncode, r.stdout, r.stderr

    def test_probe_reports_only_the_gunicorn_loggers_a_config_names(self):
        config = {'handlers': {'f': {'class': 'logging.FileHandler', 'filename': self.logfile}},
                  'loggers': {'gunicorn.error': {'level': 'WARNING', 'handlers': ['f']}},
                  'root': {'handlers': []}}
        code, out, err = self.probe('--log-level', 'debug', '--log-config-dict', json.dumps(config))
        self.assertEqual(code, 0, err)
        self.assertEqual(json.loads(out), {'gunicorn.error': {
            'level': 'warning', 'handlers': [{'kind': 'file', 'path': self.logfile}]}})
        # gunicorn's default dict names both, on the standard streams.
        code, out, err = self.probe('--log-config-dict', '{"version": 1}')
        self.assertEqual(json.loads(out), {
            'gunicorn.error': {'level': 'info', 'handlers': [{'kind': 'stderr'}]},
            'gunicorn.access': {'level': 'info', 'handlers': [{'kind': 'stdout'}]}})

    def test_probe_refuses_a_bad_config_in_one_line(self):
        code, out, err = self.probe('--log-config-dict', '{"handlers": {}}')
        self.assertEqual(code, 2)
        self.assertEqual(out, '')
        self.assertTrue(err.startswith('--log-config-dict: ') and err.count('\n') == 1, err)


if __name__ == '__main__':
    unittest.main()
