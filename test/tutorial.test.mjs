// The tutorial this project started from (../shared/seed) starts its app four ways: wsgiref's
// make_server(...).serve_forever(), the gunicorn command line, waitress's serve(app, host, port)
// and `uwsgi --http :8051 --wsgi-file web_application.py`. Each runs here with nodicorn in the
// server's place, as a user switching would write it: the Python forms import nodicorn's
// make_server / serve instead (from this clone's python/, whose launcher runs this clone's dist/
// on the Node running the tests), the command lines say `nodicorn`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PYTHON, ROOT, request, serverFor } from './helpers.mjs';

const PY = PYTHON ?? 'python3';
/** A clone's nodicorn package, run on the Node that runs these tests (not whatever is on PATH). */
const PY_ENV = { PYTHONPATH: path.join(ROOT, 'python'), NODICORN_NODE: process.execPath };
const HELLO = 'Hello my friend!';

// The tutorial's app, as its first listing has it: make_server(...).serve_forever() at module level.
const APP = `
def application(environ, start_response):
    start_response("200 OK", [("Content-type", "text/plain")])
    return ["${HELLO}".encode("utf-8")]
`;

function folder(t, files) {
  const dir = mkdtempSync(path.join(tmpdir(), 'nodicorn-tutorial-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

/** A port free right now on 127.0.0.1, for a script that must know its port before it starts. */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function assertHello(server) {
  const res = await request(server.port, { path: '/' });
  assert.equal(res.status, 200);
  assert.equal(res.text(), HELLO);
}

/** SIGTERM to the process the user started: the server stops gracefully and it exits 0. */
async function assertStops(server) {
  const { code, signal } = await server.stop('SIGTERM', 30_000);
  assert.deepEqual({ code, signal }, { code: 0, signal: null }, server.stderrText());
  assert.ok(server.stderrLines.some((l) => /Shutting down: Master/.test(l)), server.stderrText());
}

test('wsgiref: make_server(host, port, app).serve_forever() from nodicorn, run as python web_application.py', async (t) => {
  const dir = folder(t, {
    'web_application.py': `from nodicorn import make_server\n${APP}\nserver = make_server('127.0.0.1', 0, application)\nserver.serve_forever()\n`,
  });
  const server = await serverFor(t, ['web_application.py'], { command: PY, cwd: dir, env: PY_ENV, timeout: 60_000 });
  await assertHello(server);
  // The workers imported the script by its path, and its serve_forever() returned at once there:
  // nodicorn's own make_server, not wsgiref's stand-in.
  assert.ok(!server.stderrLines.some((l) => /skipped it, nodicorn serves the app/.test(l)), server.stderrText());
  await assertStops(server);
});

test('gunicorn: nodicorn web_application:application --bind=..., the tutorial file unchanged', async (t) => {
  const dir = folder(t, {
    'web_application.py': `from wsgiref.simple_server import make_server\n${APP}\nserver = make_server('localhost', 8051, application)\nserver.serve_forever()\n`,
  });
  const server = await serverFor(t, ['web_application:application', '--bind=127.0.0.1:0'], { bind: false, cwd: dir, timeout: 60_000 });
  await assertHello(server);
});

test("waitress: serve(application, host=..., port=...) from nodicorn, run as python script.py", async (t) => {
  const dir = folder(t, {
    'web_application_waitress.py':
      `from wsgiref.simple_server import make_server\nfrom nodicorn import serve\n${APP}\nserve(application, host='127.0.0.1', port=0)\n`,
  });
  const server = await serverFor(t, ['web_application_waitress.py'], { command: PY, cwd: dir, env: PY_ENV, timeout: 60_000 });
  await assertHello(server);
  await assertStops(server);
});

test('uWSGI: nodicorn --http :PORT --wsgi-file web_application.py (python -m nodicorn)', async (t) => {
  const dir = folder(t, {
    'web_application.py': `from wsgiref.simple_server import make_server\n${APP}\nserver = make_server('localhost', 8051, application)\nserver.serve_forever()\n`,
  });
  const args = ['-m', 'nodicorn', '--http', ':0', '--wsgi-file', 'web_application.py', '--master', '--processes', '2'];
  const server = await serverFor(t, args, { command: PY, cwd: dir, env: PY_ENV, timeout: 60_000 });
  // uWSGI's :PORT is every interface, as nodicorn's --bind :PORT.
  assert.ok(server.stderrLines.some((l) => /Listening at: http:\/\/0\.0\.0\.0:\d+/.test(l)), server.stderrText());
  await assertHello(server);
  assert.equal(server.stderrLines.filter((l) => /Booting worker with pid/.test(l)).length >= 1, true);
});

test('serve(): Ctrl+C (SIGINT to the script) stops the server gracefully and raises KeyboardInterrupt, as waitress', async (t) => {
  const dir = folder(t, { 'app.py': `from nodicorn import serve\n${APP}\nserve(application, host='127.0.0.1', port=0)\n` });
  const server = await serverFor(t, ['app.py'], { command: PY, cwd: dir, env: PY_ENV, timeout: 60_000 });
  await assertHello(server);
  const { code, signal } = await server.stop('SIGINT', 30_000);
  // Python ends an uncaught KeyboardInterrupt by SIGINT (status 130 from a shell).
  assert.ok(signal === 'SIGINT' || code === 130, `${code} ${signal}: ${server.stderrText()}`);
  assert.ok(server.stderrLines.some((l) => /Shutting down: Master/.test(l)), server.stderrText());
  assert.ok(server.stderrLines.some((l) => /^KeyboardInterrupt/.test(l)), server.stderrText());
});

test('serve(): a server that cannot start ends the script with its status and one line saying so', async (t) => {
  const taken = net.createServer();
  await new Promise((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.after(() => taken.close());
  const dir = folder(t, { 'app.py': `from nodicorn import serve\n${APP}\nserve(application, host='127.0.0.1', port=${taken.address().port})\n` });
  const r = spawnSync(PY, ['app.py'], { cwd: dir, env: { ...process.env, ...PY_ENV }, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /EADDRINUSE/);
  assert.match(r.stderr, /^nodicorn: serve\(\): the server exited with status 1$/m);
  assert.doesNotMatch(r.stderr, /Traceback/);
});

test('make_server(): shutdown() from another thread ends serve_forever(), which returns', async (t) => {
  const port = await freePort();
  const dir = folder(t, {
    'threaded.py': `import sys, threading, time, urllib.request
from nodicorn import make_server
${APP}
if __name__ == "__main__":
    server = make_server("127.0.0.1", ${port}, application)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    deadline = time.monotonic() + 60
    while True:
        try:
            body = urllib.request.urlopen("http://127.0.0.1:${port}/", timeout=10).read().decode()
            break
        except OSError:
            if time.monotonic() > deadline:
                server.shutdown()
                sys.exit("not serving after 60 s")
            time.sleep(0.2)
    server.shutdown()
    thread.join(30)
    print("body=%s returned=%s" % (body, not thread.is_alive()))
`,
  });
  const r = spawnSync(PY, ['threaded.py'], { cwd: dir, env: { ...process.env, ...PY_ENV }, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`body=${HELLO} returned=True`), r.stderr);
});

test('serve() refuses, before starting anything, an app the workers cannot import and an unknown keyword', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'nodicorn-tutorial-'));
  try {
    const run = (code) => spawnSync(PY, ['-c', code], { cwd: dir, env: { ...process.env, ...PY_ENV }, encoding: 'utf8', timeout: 60_000 });
    const lambda = run('from nodicorn import serve\nserve(lambda environ, start_response: [], port=0)');
    assert.notEqual(lambda.status, 0);
    assert.match(lambda.stderr, /TypeError: serve\(\): the app .* is a lambda; nodicorn's workers import the app by module and name/);
    assert.doesNotMatch(lambda.stderr, /Starting nodicorn/);
    const unknown = run(`from nodicorn import serve\n${APP}\nserve(application, port=0, colour="blue")`);
    assert.notEqual(unknown.status, 0);
    assert.match(unknown.stderr, /TypeError: serve\(\) got an unexpected keyword argument 'colour'/);
    assert.doesNotMatch(unknown.stderr, /Starting nodicorn/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
