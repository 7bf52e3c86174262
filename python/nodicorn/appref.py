"""The app object handed to serve() or make_server() -> the spec the workers import it by.

The workers are other processes: they cannot be given the object, only where to import it from,
`module:name` (or `/path/to/script.py:name` for an app defined in the script run as
`python script.py`). The object must therefore be reachable as a module-level name: a function
or class by its own module and qualified name, any other object (a Flask app...) by a name bound
to it in the module that called serve(). Lambdas, closures and objects only a local variable
holds cannot be imported, and are refused here with a TypeError saying so.
"""
from __future__ import annotations

import os
import sys
from types import ModuleType
from typing import Any, Dict, List, Optional, Tuple

# Names tried first when several module-level names hold the app.
PREFERRED = ("application", "app")


class AppRef:
    """Where the workers import the app from: `spec` for --app, `path` for their PYTHONPATH."""

    def __init__(self, spec: str, path: Optional[str]) -> None:
        self.spec = spec
        self.path = path


def _unimportable(caller: str, app: Any, why: str) -> TypeError:
    return TypeError(
        f"{caller}: the app {app!r} {why}; nodicorn's workers import the app by module and name, "
        f"so define it at the top level of a module (def application(environ, start_response): ...) "
        f"and pass that name"
    )


def _walk(module: ModuleType, dotted: str) -> Any:
    obj: Any = module
    for part in dotted.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _own_name(app: Any) -> Optional[Tuple[str, str]]:
    """(module name, qualified name) of a function or class defined at a module's top level."""
    module_name = getattr(app, "__module__", None)
    qualname = getattr(app, "__qualname__", None)
    if not isinstance(module_name, str) or not isinstance(qualname, str) or "<" in qualname:
        return None
    module = sys.modules.get(module_name)
    if module is None or _walk(module, qualname) is not app:
        return None
    return module_name, qualname


def _bound_name(app: Any, namespace: Dict[str, Any]) -> Optional[str]:
    names: List[str] = sorted(name for name, value in namespace.items() if value is app and not name.startswith("__"))
    for preferred in PREFERRED:
        if preferred in names:
            return preferred
    return names[0] if names else None


def _import_root(module: ModuleType, name: str) -> Optional[str]:
    """The sys.path entry a module named `name` was imported from: pkg/sub/mod.py -> the folder of pkg/."""
    file = getattr(module, "__file__", None)
    if not file:
        return None
    root = os.path.dirname(os.path.abspath(file))
    depth = name.count(".") + (1 if os.path.basename(file).startswith("__init__.") else 0)
    for _ in range(depth):
        root = os.path.dirname(root)
    return root


def _spec(caller: str, app: Any, module_name: str, attr: str) -> AppRef:
    module = sys.modules[module_name]
    if module_name != "__main__":
        return AppRef(f"{module_name}:{attr}", _import_root(module, module_name))
    # The script being run: by its module name under `python -m pkg.mod`, else by its path, which
    # the workers load as a file (its folder first on their sys.path).
    spec = getattr(module, "__spec__", None)
    run_as = getattr(spec, "name", None)
    if isinstance(run_as, str) and run_as != "__main__":
        return AppRef(f"{run_as}:{attr}", _import_root(module, run_as))
    file = getattr(module, "__file__", None)
    if not file:
        raise _unimportable(caller, app, "was defined in an interactive session or `python -c`, which no worker can import")
    return AppRef(f"{os.path.abspath(file)}:{attr}", None)


def find_app(app: Any, caller_globals: Dict[str, Any], caller: str = "serve()") -> AppRef:
    """Where the workers can import `app` from; TypeError when they cannot."""
    if not callable(app):
        raise TypeError(f"{caller}: expected a WSGI application (a callable taking environ and start_response), got {type(app).__name__}")
    own = _own_name(app)
    if own is not None:
        return _spec(caller, app, *own)
    qualname = getattr(app, "__qualname__", "")
    if isinstance(qualname, str) and "<lambda>" in qualname:
        raise _unimportable(caller, app, "is a lambda")
    if isinstance(qualname, str) and "<locals>" in qualname:
        raise _unimportable(caller, app, "is defined inside a function")
    namespaces = [caller_globals.get("__name__")]
    if namespaces[0] != "__main__":
        namespaces.append("__main__")
    for module_name in namespaces:
        module = sys.modules.get(module_name) if isinstance(module_name, str) else None
        if module is None:
            continue
        name = _bound_name(app, vars(module))
        if name is not None:
            return _spec(caller, app, module_name, name)
    raise _unimportable(caller, app, "is not a top-level name of the module that called it")
