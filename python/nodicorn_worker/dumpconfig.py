"""Evaluates a nodicorn (gunicorn-style) Python config file and prints its settings as JSON.

Usage: python dumpconfig.py CONFIG_FILE

The file runs as a module named __config__, with the working directory first on sys.path (as it is
for the app). Anything it prints goes to stderr, so stdout carries only the JSON: {"values": {name: value}, "unserializable": [name, ...]}.
Names starting with "_", modules, functions and classes are left out silently; other values that
JSON cannot carry are listed in "unserializable" so the caller can warn about them.
"""
import contextlib
import json
import os
import sys
import types


def _plain(value):
    """Returns a JSON-ready copy of value, or raises TypeError/ValueError."""
    if isinstance(value, (set, frozenset)):
        value = sorted(value, key=repr)
    return json.loads(json.dumps(value, allow_nan=False))


def evaluate(path):
    namespace = {'__file__': os.path.abspath(path), '__name__': '__config__', '__builtins__': __builtins__}
    with open(path, 'rb') as f:
        source = f.read()
    code = compile(source, path, 'exec')
    with contextlib.redirect_stdout(sys.stderr):
        exec(code, namespace)
    values = {}
    unserializable = []
    for name, value in namespace.items():
        if name.startswith('_'):
            continue
        if isinstance(value, (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type)):
            continue
        try:
            values[name] = _plain(value)
        except (TypeError, ValueError):
            unserializable.append(name)
    return {'values': values, 'unserializable': unserializable}


def main(argv):
    if len(argv) != 2:
        sys.stderr.write('usage: dumpconfig.py CONFIG_FILE\n')
        return 2
    # Running this script put its own directory first on sys.path; the config file should see the
    # working directory instead, as the app does.
    sys.path[0] = os.getcwd()
    result = evaluate(argv[1])
    sys.stdout.write(json.dumps(result))
    sys.stdout.write('\n')
    sys.stdout.flush()
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
