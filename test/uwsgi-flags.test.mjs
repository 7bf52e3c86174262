// uWSGI's spellings on nodicorn's command line (src/config/settings/uwsgi.ts): --http and
// --http-socket for --bind, --wsgi-file and --module for the app, --callable, --processes for
// --workers, --master accepted. None may change what a gunicorn command line means.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { APPS, EXAMPLES, PYTHON, ROOT, request, runCli, serverFor } from './helpers.mjs';

const UWSGI_FLAGS = ['--http', '--http-socket', '--wsgi-file', '--module', '--callable', '--processes', '--master'];
const CLEAN = { GUNICORN_CMD_ARGS: '', NODICORN_CMD_ARGS: '', WEB_CONCURRENCY: '', PORT: '' };

/** --print-config's `name = value` lines as a Map; asserts exit 0. */
async function printed(args) {
  const r = await runCli([...args, '--print-config'], { cwd: EXAMPLES, env: CLEAN, timeout: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  return new Map(r.stdout.split('\n').map((l) => /^(\w+)\s+= (.*)$/.exec(l)).filter(Boolean).map((m) => [m[1], m[2]]));
}

test('uWSGI flags set bind, the app and workers as uWSGI means them', async () => {
  const a = await printed(['--http', ':8051', '--wsgi-file', 'web_application.py', '--processes', '3', '--threads', '2', '--master']);
  assert.equal(a.get('bind'), "[':8051']");
  assert.equal(a.get('wsgi_app'), './web_application.py');
  assert.equal(a.get('workers'), '3');
  assert.equal(a.get('threads'), '2');
  assert.equal(a.get('master'), 'True');
  // A uWSGI address without a colon is a UNIX socket path; both --http forms take it.
  const b = await printed(['--http-socket', '/tmp/nodicorn-uwsgi.sock', '--http', '127.0.0.1:9', '--module', 'web_application', '--callable', 'application']);
  assert.equal(b.get('bind'), "['unix:/tmp/nodicorn-uwsgi.sock', '127.0.0.1:9']");
  assert.equal(b.get('wsgi_app'), 'web_application:application');
  // Unique prefixes work as for gunicorn's flags.
  const c = await printed(['--http-s', ':0', '--wsgi', 'web_application.py', '--proc', '2']);
  assert.equal(c.get('bind'), "[':0']");
  assert.equal(c.get('workers'), '2');
});

test('conflicting uWSGI app flags: one line naming the flag, exit 2', async () => {
  const both = await runCli(['--wsgi-file', 'a.py', 'b:app'], { env: CLEAN });
  assert.equal(both.code, 2);
  assert.equal(both.stderr.trim(), 'nodicorn: error: --wsgi-file (from argv): expected it or APP_MODULE, got both ("./a.py" and "b:app")');
  const named = await runCli(['--module', 'web_application:application', '--callable', 'app'], { env: CLEAN });
  assert.equal(named.code, 2);
  assert.match(named.stderr.trim(), /^nodicorn: error: --callable: expected an app without its own :NAME, got "web_application:application" and --callable app$/);
  const bad = await runCli(['--http', 'host:port', 'web_application'], { env: CLEAN });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr.trim(), /^nodicorn: error: --http \(from argv\): expected HOST:PORT/);
});

test('--wsgi-file serves a file of any suffix, with --callable naming the app', async (t) => {
  const server = await serverFor(t, ['--wsgi-file', 'site.wsgi', '--http', '127.0.0.1:0'], { bind: false, cwd: path.join(ROOT, 'python', 'tests', 'apps') });
  assert.equal((await request(server.port, { path: '/' })).text(), 'from a .wsgi file');
  const named = await serverFor(t, ['--wsgi-file', path.join(APPS, 'hello_app.py'), '--callable', 'app', '--http-socket', '127.0.0.1:0'], { bind: false });
  assert.equal((await request(named.port, { path: '/' })).status, 200);
});

test('no uWSGI flag changes a gunicorn command line: none is a gunicorn flag or shortens one', () => {
  const r = spawnSync(PYTHON ?? 'python3', ['-c', 'import json; from gunicorn.config import KNOWN_SETTINGS as K; print(json.dumps([f for s in K for f in (s.cli or [])]))'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `gunicorn must be installed in the test interpreter:\n${r.stderr}`);
  const gunicorn = JSON.parse(r.stdout).filter((f) => f.startsWith('--'));
  assert.ok(gunicorn.length >= 90);
  for (const flag of UWSGI_FLAGS) {
    assert.ok(!gunicorn.includes(flag), `${flag} is gunicorn's`);
    // argparse takes a prefix that only one of gunicorn's flags starts with: no such prefix may
    // also start a uWSGI flag (it would become ambiguous, or mean the uWSGI flag).
    for (const g of gunicorn) {
      for (let n = 3; n < g.length; n++) {
        const prefix = g.slice(0, n);
        if (gunicorn.filter((f) => f.startsWith(prefix)).length === 1) assert.ok(!flag.startsWith(prefix), `${prefix} (gunicorn's ${g}) would also start ${flag}`);
      }
    }
  }
});
