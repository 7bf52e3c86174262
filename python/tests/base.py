"""Shared setup for the end-to-end tests: one worker process per test class."""
import os
import tempfile
import unittest
from urllib.parse import urlencode

from .workerproc import Worker

POSIX = os.name == 'posix'


@unittest.skipUnless(POSIX, 'the harness puts a socketpair at fd 3 with preexec_fn (POSIX)')
class WorkerTestCase(unittest.TestCase):
    app = 'behaviours'
    threads = 1
    extra = ()

    @classmethod
    def setUpClass(cls):
        cls.worker = Worker(cls.app, threads=cls.threads, extra=cls.extra)
        cls.info = cls.worker.ready()
        cls.next_id = 1

    @classmethod
    def tearDownClass(cls):
        cls.worker.close()

    def new_id(self):
        cls = type(self)
        cls.next_id += 1
        return cls.next_id

    def get(self, path, query=None, **kw):
        """Sends one request; returns its id."""
        fid = self.new_id()
        env = {'PATH_INFO': path, 'QUERY_STRING': urlencode(query or {})}
        env.update(kw.pop('environ', {}))
        self.worker.request(fid, env, **kw)
        return fid

    def call(self, path, query=None, **kw):
        return self.worker.response(self.get(path, query, **kw))

    def tempfile(self, data=b''):
        fd, path = tempfile.mkstemp(prefix='nodicorn-test-')
        os.write(fd, data)
        os.close(fd)
        self.addCleanup(os.unlink, path)
        return path

    def marker(self):
        return self.tempfile()

    def read_marker(self, path):
        with open(path) as f:
            return f.read().split('\n')[:-1]

