"""The app spec (what --app says) -> the WSGI callable.

Forms, as gunicorn and uwsgi --wsgi-file accept them:
  module:attr               dotted module, dotted attribute
  module                    attribute `application` (gunicorn's default)
  module:factory(1, k='v')  called with literal arguments (parsed by ast, never eval'd)
  path/to/app.py[:attr]     a file (any suffix when the path has a slash: ./app.wsgi), loaded as
                            a module named from its stem, its folder first on
                            sys.path (uwsgi --wsgi-file)

Every failure is an AppLoadError carrying the message, the underlying exception's type and its
traceback, which __main__ sends as BOOT_ERROR before exiting with APP_LOAD.
"""
from __future__ import annotations

import ast
import importlib
import importlib.machinery
import importlib.util
import os
import re
import sys
import traceback
from types import ModuleType
from typing import Any, Callable, Dict, List, Optional, Tuple

DEFAULT_ATTR = 'application'
_DOTTED = re.compile(r'[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*\Z')
_DRIVE = re.compile(r'[A-Za-z]:[\\/]')


class AppLoadError(Exception):
    def __init__(self, message: str, kind: str = 'AppLoadError', cause: Optional[BaseException] = None) -> None:
        Exception.__init__(self, message)
        self.kind = type(cause).__name__ if cause is not None else kind
        if cause is not None:
            self.traceback = ''.join(traceback.format_exception(type(cause), cause, cause.__traceback__))
        else:
            self.traceback = '%s: %s\n' % (self.kind, message)


def split_spec(spec: str) -> Tuple[str, Optional[str]]:
    """(module or file part, attribute expression or None)."""
    # A Windows drive letter ("C:\\app.py") is not the module/attribute separator.
    start = 2 if _DRIVE.match(spec) else 0
    i = spec.find(':', start)
    if i < 0:
        return spec, None
    return spec[:i], spec[i + 1:]


def parse_attr(expr: str) -> Tuple[str, Optional[List[Any]], Optional[Dict[str, Any]]]:
    """(dotted name, args, kwargs) with args None when the spec is not a call."""
    expr = expr.strip()
    if _DOTTED.match(expr):
        return expr, None, None
    try:
        node = ast.parse(expr, mode='eval').body
    except SyntaxError:
        raise AppLoadError('invalid app spec attribute %r: expected a name or a call like '
                           'create_app() with literal arguments' % expr, 'ValueError')
    if not isinstance(node, ast.Call):
        raise AppLoadError('invalid app spec attribute %r: expected a name or a call' % expr, 'ValueError')
    name = _dotted(node.func)
    if name is None:
        raise AppLoadError('invalid app spec attribute %r: the factory must be a (dotted) name' % expr,
                           'ValueError')
    args = []
    kwargs = {}
    for arg in node.args:
        args.append(_literal(arg, expr))
    for kw in node.keywords:
        if kw.arg is None:
            raise AppLoadError('invalid app spec attribute %r: **kwargs are not supported' % expr, 'ValueError')
        kwargs[kw.arg] = _literal(kw.value, expr)
    return name, args, kwargs


def _dotted(node):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return '.'.join(reversed(parts))


def _literal(node, expr):
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError):
        raise AppLoadError('invalid app spec %r: factory arguments must be Python literals '
                           '(strings, numbers, tuples, lists, dicts, True/False/None)' % expr, 'ValueError')


def import_module(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name and (name == e.name or name.startswith(e.name + '.')):
            raise AppLoadError('module not found: %r (sys.path: %s)' % (name, os.pathsep.join(sys.path)), cause=e)
        raise AppLoadError('importing module %r failed: %s' % (name, e), cause=e)
    except BaseException as e:
        raise AppLoadError('importing module %r failed: %s: %s' % (name, type(e).__name__, e), cause=e)


def load_file(path: str) -> ModuleType:
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise AppLoadError('app file not found: %s' % path, 'FileNotFoundError')
    directory, base = os.path.split(path)
    if not sys.path or sys.path[0] != directory:
        sys.path.insert(0, directory)
    stem = os.path.splitext(base)[0]
    name = stem if stem.isidentifier() and stem not in sys.modules else '_nodicorn_app_' + re.sub(r'\W', '_', stem)
    # Any suffix is Python source here (uWSGI's --wsgi-file takes app.wsgi), not only .py.
    spec = importlib.util.spec_from_file_location(name, path, loader=importlib.machinery.SourceFileLoader(name, path))
    module = importlib.util.module_from_spec(spec)
    # Registered before running, like a normal import: the module's own code (pickle,
    # dataclasses, relative lookups) may look itself up in sys.modules.
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as e:
        sys.modules.pop(name, None)
        raise AppLoadError('running app file %s failed: %s: %s' % (path, type(e).__name__, e), cause=e)
    return module


def _lookup(module, dotted):
    obj = module
    for part in dotted.split('.'):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise AppLoadError('no attribute %r in module %r' % (dotted, module.__name__), 'AttributeError')
    return obj


# Above zero while the app module is being imported: nodicorn's own serve() and make_server()
# (python/nodicorn) then return at once instead of starting a server from inside a worker.
_loading = 0


def loading_app() -> bool:
    """Whether this process is importing the app to serve it (read by nodicorn.serve)."""
    return _loading > 0


class _SkippedServer:
    """What wsgiref's make_server returns while the app loads: serving is nodicorn's job.

    Tutorial apps call make_server(...).serve_forever() at module level, which would block the
    import forever; this stand-in returns at once from every serving method.
    """

    def __init__(self, host, port, app):
        self.server_address = (host, port)
        self.server_name = host
        self.server_port = port
        self.application = app

    def serve_forever(self, *args, **kwargs):
        return None

    handle_request = shutdown = server_close = serve_forever

    def get_app(self):
        return self.application

    def set_app(self, app):
        self.application = app

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _import_with_stand_in(left):
    """Imports the module (or file) with wsgiref's make_server replaced; (module, apps seen)."""
    import wsgiref.simple_server as simple_server
    recorded = []

    def make_server(host, port, app, *args, **kwargs):
        recorded.append(app)
        sys.stderr.write('nodicorn worker: the app module started its own development server '
                         '(wsgiref make_server(%r, %r)); skipped it, nodicorn serves the app\n'
                         % (host, port))
        return _SkippedServer(host, port, app)

    global _loading
    real = simple_server.make_server
    simple_server.make_server = make_server
    _loading += 1
    try:
        if left.endswith('.py') or os.sep in left or (os.altsep and os.altsep in left):
            module = load_file(left)
        else:
            module = import_module(left)
    finally:
        _loading -= 1
        simple_server.make_server = real
    return module, recorded


def load(spec: str) -> Callable[..., Any]:
    """The WSGI callable the spec names, or AppLoadError."""
    if not spec or not spec.strip():
        raise AppLoadError('empty app spec', 'ValueError')
    left, attr = split_spec(spec.strip())
    if not left:
        raise AppLoadError('invalid app spec %r: no module' % spec, 'ValueError')
    if attr is not None:
        # Parsed before the import, so a typo is reported without running the app's code.
        name, args, kwargs = parse_attr(attr)
    module, recorded = _import_with_stand_in(left)
    if attr is None:
        if hasattr(module, DEFAULT_ATTR):
            app = getattr(module, DEFAULT_ATTR)
        elif recorded:
            app = recorded[-1]
        else:
            raise AppLoadError('no attribute %r in module %r (name the app: %s:NAME)'
                               % (DEFAULT_ATTR, module.__name__, left), 'AttributeError')
        name = DEFAULT_ATTR
    else:
        app = _lookup(module, name)
        if args is not None:
            if not callable(app):
                raise AppLoadError('%s in module %r is not callable, cannot call it as a factory'
                                   % (name, module.__name__), 'TypeError')
            try:
                app = app(*args, **kwargs)
            except BaseException as e:
                raise AppLoadError('factory call failed: %s: %s: %s' % (attr.strip(), type(e).__name__, e), cause=e)
            name = attr.strip()
    if not callable(app):
        raise AppLoadError('%s in module %r is not callable (got %s)'
                           % (name, module.__name__, type(app).__name__), 'TypeError')
    return app
