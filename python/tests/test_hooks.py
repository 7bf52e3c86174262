"""Server hooks: finding them in a config namespace, and the ssl_context translation."""
import os
import shutil
import ssl
import subprocess
import tempfile
import unittest

from nodicorn_worker import hooks as H
from nodicorn_worker import sslhook


class FindHooks(unittest.TestCase):
    def test_import_string_and_short_post_request(self):
        seen = []

        def post_request(worker, req):
            seen.append((worker, req))

        found = H.find_hooks({'post_request': post_request, 'on_exit': 'os.getpid', 'workers': 3})
        self.assertEqual(sorted(found), ['on_exit', 'post_request'])
        self.assertIs(found['on_exit'], os.getpid)
        found['post_request']('w', 'r', {}, None)
        self.assertEqual(seen, [('w', 'r')])

    def test_bad_import_string_is_one_line(self):
        with self.assertRaises(H.HookConfigError) as caught:
            H.find_hooks({'pre_fork': 'no_such_module_here.fn'})
        self.assertIn('pre_fork: cannot import', str(caught.exception))

    def test_request_from_environ(self):
        req = H.Request({'REQUEST_METHOD': 'POST', 'RAW_URI': '/a/b?x=1', 'PATH_INFO': '/a/b', 'QUERY_STRING': 'x=1',
                         'SERVER_PROTOCOL': 'HTTP/1.0', 'HTTP_X_TRACE_ID': 'abc', 'CONTENT_TYPE': 'text/plain'})
        self.assertEqual((req.method, req.path, req.query, req.uri, req.version), ('POST', '/a/b', 'x=1', '/a/b?x=1', (1, 0)))
        self.assertIn(('X-TRACE-ID', 'abc'), req.headers)
        self.assertIn(('CONTENT-TYPE', 'text/plain'), req.headers)


class SslContext(unittest.TestCase):
    """Needs the openssl command, as the black-box TLS tests do (test/tls-helpers.mjs): a missing one
    fails here too, rather than skipping."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp()
        cls.cert = os.path.join(cls.dir, 'cert.pem')
        cls.key = os.path.join(cls.dir, 'key.pem')
        subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
                        '-keyout', cls.key, '-out', cls.cert, '-days', '1', '-subj', '/CN=localhost'],
                       check=True, capture_output=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def paths(self, **extra):
        return dict({'certfile': self.cert, 'keyfile': self.key, 'ca_certs': None, 'cert_reqs': 0, 'ciphers': None,
                     'http_protocols': ['h1']}, **extra)

    def test_default_factory_with_changes(self):
        def hook(conf, factory):
            context = factory()
            context.minimum_version = ssl.TLSVersion.TLSv1_3
            context.set_ciphers('ECDHE+AESGCM')
            context.load_verify_locations(cafile=self.cert)
            context.verify_mode = ssl.CERT_REQUIRED
            return context

        out = sslhook.call_ssl_context(hook, None, self.paths())
        self.assertEqual((out['certfile'], out['keyfile'], out['min_version'], out['ciphers'], out['cert_reqs']),
                         (self.cert, self.key, 'TLSv1.3', 'ECDHE+AESGCM', 2))
        self.assertEqual(len(out['ca']), 1)
        self.assertTrue(out['ca'][0].startswith('-----BEGIN CERTIFICATE-----'))
        self.assertNotIn('load_cert_chain', ssl.SSLContext.__dict__, 'the watchers are removed afterwards')

    def test_own_context(self):
        def hook(conf, factory):
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.cert, self.key)
            return context

        self.assertEqual(sslhook.call_ssl_context(hook, None, self.paths())['certfile'], self.cert)

    def test_untranslatable_is_refused(self):
        def capath(conf, factory):
            context = factory()
            context.load_verify_locations(capath=self.dir)
            return context

        def no_cert(conf, factory):
            return ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)

        def not_a_context(conf, factory):
            return 'context'

        for hook, words in ((capath, 'capath'), (no_cert, 'certificate'), (not_a_context, 'ssl.SSLContext')):
            with self.assertRaises(sslhook.TranslateError) as caught:
                sslhook.call_ssl_context(hook, None, self.paths())
            self.assertIn(words, str(caught.exception))


if __name__ == '__main__':
    unittest.main()
