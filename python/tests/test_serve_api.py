"""nodicorn.serve / nodicorn.make_server (python/nodicorn): where the workers find the app, the
waitress keywords as nodicorn flags, and the worker side (serve() returns at once in an import)."""
import os
import sys
import types
import unittest
import warnings

from nodicorn.appref import find_app
from nodicorn.serve import server_args
from nodicorn_worker import protocol as P

from .base import POSIX
from .workerproc import APPS_DIR, Worker


def module_level_app(environ, start_response):
    start_response("200 OK", [])
    return [b""]


class Callable:
    def __call__(self, environ, start_response):
        return module_level_app(environ, start_response)


instance_app = Callable()


class FindApp(unittest.TestCase):
    def test_a_module_level_function_by_its_module_and_name(self):
        ref = find_app(module_level_app, globals())
        self.assertEqual(ref.spec, f"{__name__}:module_level_app")
        # The folder the package `tests` was imported from: the workers import it from there.
        self.assertEqual(ref.path, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

    def test_an_instance_by_the_caller_module_name_bound_to_it(self):
        self.assertEqual(find_app(instance_app, globals()).spec, f"{__name__}:instance_app")

    def test_application_and_app_are_preferred_when_several_names_hold_it(self):
        module = types.ModuleType("several_names")
        module.zzz = module.app = module.other = instance_app
        sys.modules["several_names"] = module
        try:
            self.assertEqual(find_app(instance_app, vars(module)).spec, "several_names:app")
        finally:
            del sys.modules["several_names"]

    def test_the_script_run_as_main_by_its_path(self):
        main = types.ModuleType("__main__")
        main.__file__ = "/srv/site/web_application.py"
        main.application = instance_app
        real = sys.modules["__main__"]
        sys.modules["__main__"] = main
        try:
            ref = find_app(instance_app, vars(main))
        finally:
            sys.modules["__main__"] = real
        self.assertEqual(ref.spec, "/srv/site/web_application.py:application")

    def test_a_lambda_a_closure_and_an_unbound_object_are_refused_with_why(self):
        with self.assertRaisesRegex(TypeError, r"serve\(\): the app .* is a lambda; nodicorn's workers import the app by module and name"):
            find_app(lambda environ, start_response: [], globals())

        def closure(environ, start_response):
            return []
        with self.assertRaisesRegex(TypeError, "is defined inside a function"):
            find_app(closure, globals())
        with self.assertRaisesRegex(TypeError, "is not a top-level name of the module that called it"):
            find_app(Callable(), globals())
        with self.assertRaisesRegex(TypeError, "expected a WSGI application"):
            find_app("module:app", globals())


class ServerArgs(unittest.TestCase):
    def test_host_and_port_with_waitress_default_port_and_nodicorn_default_host(self):
        self.assertEqual(server_args({"host": "localhost", "port": 8053}), ["--bind", "localhost:8053"])
        self.assertEqual(server_args({}), ["--bind", "127.0.0.1:8080"])
        self.assertEqual(server_args({"host": "::1", "port": "9000"}), ["--bind", "[::1]:9000"])

    def test_listen_entries_and_unix_socket(self):
        self.assertEqual(server_args({"listen": "*:8080 127.0.0.1:9090 [::1]:7070 example.test"}),
                         ["--bind", ":8080", "--bind", "127.0.0.1:9090", "--bind", "[::1]:7070", "--bind", "example.test:8080"])
        self.assertEqual(server_args({"unix_socket": "/run/app.sock"}), ["--bind", "unix:/run/app.sock"])
        with self.assertRaisesRegex(ValueError, "listen may not be set with port"):
            server_args({"listen": "*:8080", "port": 1})
        with self.assertRaisesRegex(ValueError, "unix_socket may not be set with host"):
            server_args({"unix_socket": "/x", "host": "a"})

    def test_keywords_with_a_counterpart_become_flags(self):
        args = server_args({"port": 1, "threads": "8", "workers": 2, "backlog": 64, "connection_limit": 50,
                            "channel_timeout": 30, "max_request_body_size": 1000, "url_prefix": "api/",
                            "trusted_proxy": "10.0.0.1"})
        self.assertEqual(args, ["--bind", "127.0.0.1:1", "--threads", "8", "--workers", "2", "--backlog", "64",
                                "--worker-connections", "50", "--keep-alive", "30", "--limit-request-body", "1000",
                                "--root-path", "/api", "--forwarded-allow-ips", "10.0.0.1"])
        with self.assertRaisesRegex(ValueError, r"threads='many': expected a number"):
            server_args({"threads": "many"})

    def test_waitress_tuning_is_ignored_with_a_warning_naming_it(self):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            self.assertEqual(server_args({"port": 1, "recv_bytes": 4096, "ident": "x", "_quiet": True}), ["--bind", "127.0.0.1:1"])
        self.assertEqual(sorted(str(w.message).split(" is ")[0] for w in caught), ["serve(): ident", "serve(): recv_bytes"])

    def test_unknown_keywords_and_unkeepable_meanings_are_refused(self):
        with self.assertRaisesRegex(TypeError, r"^serve\(\) got an unexpected keyword argument 'colour'$"):
            server_args({"colour": "blue"})
        with self.assertRaisesRegex(TypeError, "'_profile'"):
            server_args({"_profile": True})
        with self.assertRaisesRegex(ValueError, "url_scheme='https' is not supported"):
            server_args({"url_scheme": "https"})
        self.assertEqual(server_args({"url_scheme": "http", "port": 1}), ["--bind", "127.0.0.1:1"])
        with self.assertRaisesRegex(ValueError, "sockets= is not supported"):
            server_args({"sockets": []})


@unittest.skipUnless(POSIX, 'the harness needs POSIX fd passing')
class InWorker(unittest.TestCase):
    def serve_one(self, spec):
        with Worker(spec) as w:
            w.ready()
            w.request(1, {})
            _, _, _, body, last = w.response(1)
            self.assertEqual(last.type, P.END, last.payload)
            self.assertEqual(w.close(), 0)
            return body

    def test_serve_and_make_server_return_at_once_while_a_worker_imports_the_app(self):
        self.assertEqual(self.serve_one("calls_serve:application"), b"served after serve() returned")

    def test_a_file_of_any_suffix_by_path(self):
        self.assertEqual(self.serve_one(os.path.join(".", "site.wsgi")), b"from a .wsgi file")
        self.assertEqual(self.serve_one(os.path.join(APPS_DIR, "site.wsgi") + ":application"), b"from a .wsgi file")


if __name__ == "__main__":
    unittest.main()
