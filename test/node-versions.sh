#!/usr/bin/env bash
# The Node lines nodicorn supports besides the machine's own (which `npm test` covers): each one's
# official binary from the npm registry (the node-linux-<arch>@<major> package), cached in
# .node-versions/ (gitignored), never a Node found on the machine. `.ci/run` calls it after
# `npm test`; by hand: `bash test/node-versions.sh [MAJOR...]` after `npm run build`.
#
# On each line: every Node unit test (among them the lean engine's byte-for-byte parity with that
# line's node:http, which also fails if the lean engine would not load there), then the black-box
# files whose outcome depends on the Node they run on, with the default engine (lean):
#   - the HTTP/1.1 engine on that line's llhttp and a socket's libuv handle: framing, keep-alive,
#     pipelining, Expect, HEAD, limits and request checks, closing, static files, slow clients,
#     spooling and --send-timeout (which reads libuv's write queue), PROXY bytes handed to the
#     parser, and the external corpora and fuzzing (each line ships its own llhttp, whose
#     verdicts on malformed requests are what they check);
#   - TLS (node:tls, OpenSSL) and HTTP/2 (node:http2, nghttp2);
#   - signals and process handling: spawning, killing and respawning workers, timeouts, USR2's
#     inherited listening fds, daemonizing and the process settings;
#   - several front ends: a master's bound sockets (node:cluster's _createServerHandle) handed to
#     them over IPC, replaced, signalled, re-executed, and accepted connections passed between
#     them through the master (paused sockets sent as IPC handles).
# Left to `npm test` on the machine's Node, to keep CI within its time: the files about
# configuration, the Python side (the environ, wsgi.input, logging, frameworks), packaging, the
# dispatcher's queue and prefetch (plain JavaScript), --reload (file watching), the 200 MB
# transfers, hooks, the tutorial's four forms and nginx in front; and the whole suite through
# --http-engine node, which is Node's own code. The time each line took is printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

MAJORS=("$@")
[ "${#MAJORS[@]}" -gt 0 ] || MAJORS=(22 24 26)
CACHE=.node-versions
CONCURRENCY="${NODICORN_TEST_CONCURRENCY:-4}"
export NODICORN_TEST_PYTHON="${NODICORN_TEST_PYTHON:-.test-venv/bin/python}"

BLACK_BOX=(
  buffering close connection-limits expect filewrapper head keepalive limits proxy request-checks
  responses slow-clients static write
  corpus-desync corpus-gunicorn corpus-llhttp corpus-smuggler fuzz
  tls http2
  signals signals-master signals-group signals-reexec crash worker-exit timeout max-requests process
  frontends frontends-signals frontends-balance
)

case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) echo "node-versions: no node-linux package for $(uname -m)" >&2; exit 1 ;;
esac

# The newest release of a major, once: later runs reuse it (delete .node-versions/ to refresh).
fetch() {
  local major=$1 dir="$CACHE/$1"
  if [ ! -x "$dir/bin/node" ]; then
    mkdir -p "$dir"
    local tgz
    tgz=$(cd "$CACHE" && npm pack --silent "node-linux-$arch@$major" | tail -n 1)
    tar xzf "$CACHE/$tgz" -C "$dir" --strip-components=1 package/bin/node
    rm -f "$CACHE/$tgz"
  fi
}

[ -f dist/server.js ] || npm run build
mapfile -t unit < <(find dist -name '*.test.js' | sort)
files=()
for name in "${BLACK_BOX[@]}"; do files+=("test/$name.test.mjs"); done

report=()
for major in "${MAJORS[@]}"; do
  printf '\n=== Node %s (npm: node-linux-%s@%s)\n' "$major" "$arch" "$major"
  fetch "$major"
  bin="$(pwd)/$CACHE/$major/bin"
  version=$("$bin/node" --version)
  case "$version" in v"$major".*) ;; *) echo "node-versions: wanted Node $major, $CACHE/$major has $version" >&2; exit 1 ;; esac
  start=$SECONDS
  # PATH first: whatever the tests spawn as `node` is this line's too.
  PATH="$bin:$PATH" node --test --test-reporter=dot "${unit[@]}"
  unit_s=$((SECONDS - start))
  PATH="$bin:$PATH" node --test --test-reporter=dot --test-concurrency="$CONCURRENCY" "${files[@]}"
  report+=("Node $version: unit tests ${unit_s}s, black-box $((SECONDS - start - unit_s))s")
  echo "${report[-1]}"
done

printf '\n=== Node lines\n'
printf '%s\n' "${report[@]}"
