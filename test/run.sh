#!/usr/bin/env bash
# What `npm test` runs, from a fresh clone: test venv, build, Python worker tests, Node unit tests,
# black-box tests. Any failing step fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.test-venv
PY=${PYTHON:-python3}

step() { printf '\n=== %s\n' "$*"; }

# 1. A virtualenv with the frameworks the example apps need (flask, django), gunicorn 27, whose
# settings list test/gunicorn-config.test.mjs walks, and `build` for the Python package's test.
if [ ! -x "$VENV/bin/python" ]; then
  step "creating $VENV"
  "$PY" -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import flask, django, gunicorn, build, prometheus_client' >/dev/null 2>&1; then
  step "installing flask, django, gunicorn, build and prometheus_client into $VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check flask django 'gunicorn>=27,<28' build prometheus_client
fi

# 2. Build when dist/ is missing or older than any source file (the build starts from an empty
# dist/, so no module that moved or went away is left behind).
stale=0
if [ ! -f dist/cli/main.js ] || [ ! -f dist/server.js ]; then
  stale=1
elif [ -n "$(find src tsconfig.json package.json -newer dist/server.js -print -quit)" ]; then
  stale=1
fi
if [ "$stale" = 1 ]; then
  step "npm run build"
  npm run build
fi

# 3. No module, and no folder of src/, imports another that imports it back (prints the cycle).
step "import cycles"
node test/import-cycles.mjs

# 4. The Python worker's own tests (stdlib unittest, run by the test venv's interpreter).
step "python worker tests"
"$VENV/bin/python" -m unittest discover -s python/tests -t python

# 5. Node unit tests compiled beside the modules.
step "node unit tests (dist/)"
mapfile -t unit < <(find dist -name '*.test.js' | sort)
if [ "${#unit[@]}" -gt 0 ]; then
  node --test "${unit[@]}"
else
  echo "no unit tests found in dist/"
fi

# 6. Black-box tests: the real CLI, raw sockets, the venv's python for the workers.
step "black-box tests (test/)"
export NODICORN_TEST_PYTHON="$VENV/bin/python"
# Servers with 200 MB transfers and timing assertions: do not run every file at once.
node --test --test-concurrency="${NODICORN_TEST_CONCURRENCY:-4}" test/*.test.mjs

# 7. The same black-box tests with the other HTTP/1.1 engine (--http-engine node): both must
# pass whole, since either one serves users (node:http on Node versions lean was not checked on).
step "black-box tests (test/), --http-engine node"
NODICORN_HTTP_ENGINE=node node --test --test-concurrency="${NODICORN_TEST_CONCURRENCY:-4}" test/*.test.mjs

# 8. The external corpora once more over TLS, on both engines: the parser then reads the TLS
# stream's plaintext (one TLS record per byte in the byte-by-byte replays), which must change no
# verdict. PROXY headers go in the clear before the handshake, as a load balancer sends them.
step "corpora over TLS (test/corpus-*.test.mjs), both engines"
NODICORN_CORPUS_TLS=1 node --test --test-concurrency="${NODICORN_TEST_CONCURRENCY:-4}" test/corpus-*.test.mjs
NODICORN_CORPUS_TLS=1 NODICORN_HTTP_ENGINE=node node --test --test-concurrency="${NODICORN_TEST_CONCURRENCY:-4}" test/corpus-*.test.mjs

# 8. The packages as users install them: the npm tarball through npx, and the wheel from
# `python -m build` in a virtualenv with no Node on PATH.
step "npm package (test/package/npm.test.mjs)"
node --test test/package/*.test.mjs
step "python package (test/package/test_wheel.py)"
"$VENV/bin/python" -m unittest discover -s test/package -p 'test_*.py'
