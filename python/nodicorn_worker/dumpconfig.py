"""Evaluates a nodicorn (gunicorn-style) config and prints its settings as JSON.

Usage: python dumpconfig.py CONFIG [--hooks NAME:MIN-MAX,...]
       python dumpconfig.py --check-app APP_SPEC [--pythonpath DIR]...

CONFIG is a Python file, or python:package.module for a module on the Python path (as gunicorn
takes it). A file runs as a module named __config__, with the working directory first on sys.path
(as it is for the app). Anything it prints goes to stderr, so stdout carries only the JSON:

    {"values": {name: value}, "unserializable": [name, ...], "hooks": [name, ...]}

--hooks names gunicorn's server hooks with how many arguments each takes; a function with one of
those names is listed in "hooks" (after checking it takes that many), not in "values". Names
starting with "_", modules, other functions, and classes defined under their own name are left
out silently; a class bound to another name (logger_class = MyLogger) is given as its dotted
path. Other values that JSON cannot carry are listed in "unserializable" so the caller can warn.
"""
import contextlib
import importlib
import inspect
import json
import os
import sys
import types
from typing import Any, Dict, List, Tuple

PYTHON_PREFIX = 'python:'
CHECK_FAILED = 1  # gunicorn --check-config's exit status when the app does not load


def _plain(value: Any) -> Any:
    """Returns a JSON-ready copy of value, or raises TypeError/ValueError."""
    if isinstance(value, (set, frozenset)):
        value = sorted(value, key=repr)
    return json.loads(json.dumps(value, allow_nan=False))


def parse_hooks(spec: str) -> Dict[str, Tuple[int, int]]:
    """'post_fork:2-2,post_request:3-4' -> {'post_fork': (2, 2), 'post_request': (3, 4)}."""
    hooks = {}
    for item in filter(None, spec.split(',')):
        name, _, arity = item.partition(':')
        low, _, high = arity.partition('-')
        hooks[name] = (int(low), int(high or low))
    return hooks


def takes(fn: Any, count: int) -> bool:
    """Whether fn can be called with `count` positional arguments."""
    try:
        inspect.signature(fn).bind(*range(count))
    except TypeError:
        return False
    except ValueError:
        return True  # no signature to check (some builtins): let the call decide
    return True


def _check_hook(name: str, fn: Any, arity: Tuple[int, int]) -> None:
    low, high = arity
    if not any(takes(fn, n) for n in range(low, high + 1)):
        wanted = str(low) if low == high else '%d or %d' % (low, high)
        raise TypeError('server hook %s must take %s positional arguments' % (name, wanted))


def import_hook(name: str, path: str) -> Any:
    """gunicorn also takes a hook as an import string, "package.module.function". Raises
    TypeError naming the hook. (hooks.py, in the processes that call hooks, uses this too.)"""
    mod_name, _, obj_name = path.rpartition('.')
    try:
        return getattr(importlib.import_module(mod_name), obj_name)
    except (ImportError, AttributeError, ValueError) as e:
        raise TypeError('server hook %s: cannot import %r (%s)' % (name, path, e))


def load_namespace(config: str) -> Dict[str, Any]:
    """Runs the config file (or imports the python: module) and returns its module-level names."""
    with contextlib.redirect_stdout(sys.stderr):
        if config.startswith(PYTHON_PREFIX):
            return dict(vars(importlib.import_module(config[len(PYTHON_PREFIX):])))
        namespace = {'__file__': os.path.abspath(config), '__name__': '__config__', '__builtins__': __builtins__}
        with open(config, 'rb') as f:
            source = f.read()
        exec(compile(source, config, 'exec'), namespace)
        return namespace


def evaluate(config: str, hooks: Dict[str, Tuple[int, int]]) -> Dict[str, Any]:
    values: Dict[str, Any] = {}
    unserializable: List[str] = []
    found: List[str] = []
    for name, value in load_namespace(config).items():
        if name.startswith('_') or isinstance(value, types.ModuleType):
            continue
        if name in hooks and isinstance(value, str):
            value = import_hook(name, value)
        if name in hooks and callable(value):
            _check_hook(name, value, hooks[name])
            found.append(name)
            continue
        if isinstance(value, type):
            if value.__name__ != name:
                values[name] = '%s.%s' % (value.__module__, value.__qualname__)
            continue
        if isinstance(value, (types.FunctionType, types.BuiltinFunctionType)):
            continue
        try:
            values[name] = _plain(value)
        except (TypeError, ValueError):
            unserializable.append(name)
    return {'values': values, 'unserializable': unserializable, 'hooks': found}


def check_app(spec: str, pythonpath: List[str]) -> int:
    """--check-config: imports the app as a worker would (working directory and --pythonpath first
    on sys.path); prints the traceback and returns CHECK_FAILED when it does not load."""
    for d in reversed([os.getcwd()] + pythonpath):
        sys.path.insert(0, os.path.abspath(d))
    from nodicorn_worker.appload import AppLoadError, load
    try:
        with contextlib.redirect_stdout(sys.stderr):
            load(spec)
    except AppLoadError as e:
        sys.stderr.write('\nError while loading the application:\n\n%s' % e.traceback)
        return CHECK_FAILED
    except BaseException:  # noqa: B902 - whatever the import raised is the answer
        import traceback
        sys.stderr.write('\nError while loading the application:\n\n%s' % traceback.format_exc())
        return CHECK_FAILED
    return 0


def main(argv: List[str]) -> int:
    args = argv[1:]
    if args[:1] == ['--check-app'] and len(args) >= 2:
        paths = [args[i + 1] for i in range(2, len(args) - 1, 2) if args[i] == '--pythonpath']
        sys.path[0] = os.getcwd()
        return check_app(args[1], paths)
    hooks: Dict[str, Tuple[int, int]] = {}
    if len(args) == 3 and args[1] == '--hooks':
        hooks = parse_hooks(args[2])
        args = args[:1]
    if len(args) != 1:
        sys.stderr.write('usage: dumpconfig.py CONFIG [--hooks NAME:MIN-MAX,...]\n')
        return 2
    # Running this script put its own directory first on sys.path; the config file should see the
    # working directory instead, as the app does.
    sys.path[0] = os.getcwd()
    result = evaluate(args[0], hooks)
    sys.stdout.write(json.dumps(result))
    sys.stdout.write('\n')
    sys.stdout.flush()
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
