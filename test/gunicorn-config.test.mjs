// gunicorn drop-in, configuration side: every gunicorn 27 flag and config key is known (read from
// the gunicorn installed in the test virtualenv), gunicorn.conf.py is read by default,
// GUNICORN_CMD_ARGS and python:module configs work, --check-config and --print-config behave as
// gunicorn's, worker classes map or are refused, and refused / no-effect settings say why.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { APPS, PYTHON, bootedPids, getText, runCli, serverFor, waitUntil } from './helpers.mjs';

const lines = (text) => text.split('\n').filter((l) => l.trim() !== '');
const tempDir = () => mkdtempSync(path.join(tmpdir(), 'nodicorn-gconf-'));
/** Env without anything that would change the settings under test. */
const CLEAN = { GUNICORN_CMD_ARGS: '', NODICORN_CMD_ARGS: '', WEB_CONCURRENCY: '', PORT: '' };

/** gunicorn's own settings list: [{name, cli, section, hook: arity or null, default: Python source}]. */
function gunicornSettings() {
  const script = `
import enum, inspect, json
from gunicorn.config import KNOWN_SETTINGS
out = []
for s in KNOWN_SETTINGS:
    d = s.default
    hook = len(inspect.signature(d).parameters) if callable(d) and not isinstance(d, type) else None
    if isinstance(d, enum.Enum):
        d = d.value
    out.append({'name': s.name, 'cli': s.cli or [], 'section': s.section, 'hook': hook, 'default': None if hook is not None else repr(d)})
print(json.dumps(out))
`;
  const r = spawnSync(PYTHON ?? 'python3', ['-c', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `gunicorn must be installed in the test interpreter (test/run.sh installs it):\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Runs the CLI with --print-config; returns {code, stderr, settings: Map name -> printed value}. */
async function printConfig(args, opts = {}) {
  const r = await runCli([...args, '--print-config'], { timeout: 60_000, ...opts, env: { ...CLEAN, ...opts.env } });
  const settings = new Map();
  for (const line of lines(r.stdout)) {
    const m = /^(\w+)\s+= (.*)$/.exec(line);
    if (m) settings.set(m[1], m[2]);
  }
  return { ...r, settings };
}

test('every gunicorn 27 command-line flag, in every spelling, is a nodicorn flag', async () => {
  const settings = gunicornSettings();
  const flags = settings.flatMap((s) => s.cli);
  assert.ok(flags.length >= 90, `gunicorn lists ${flags.length} flags`);
  // --help is rendered from the registry the parser reads: each spelling appears there whole.
  const help = await runCli(['--help'], { python: false, timeout: 30_000 });
  assert.equal(help.code, 0, help.stderr);
  const words = new Set(help.stdout.split(/[\s,]+/));
  const missing = flags.filter((f) => !words.has(f));
  assert.deepEqual(missing, [], `flags nodicorn does not know: ${missing.join(' ')}`);
  // And the parser takes every one of them: a flag it did not know would stop this with "no such flag".
  const r = await runCli([...flags.map((f) => `${f}=1`), '--version'], { python: false, timeout: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /no such flag/);
});

test('every gunicorn 27 config-file key is known: a gunicorn.conf.py spelling out every default loads silently', async () => {
  const settings = gunicornSettings();
  const cwd = tempDir();
  const source = [];
  for (const s of settings) {
    if (s.name === 'config' || s.section === 'Dirty Arbiter Hooks') continue;
    if (s.hook !== null) {
      source.push(`def ${s.name}(${Array.from({ length: s.hook }, (_, i) => `a${i}`).join(', ')}):\n    pass`);
    } else if (s.name === 'control_socket') {
      source.push(`${s.name} = None`); // gunicorn's default is a path under $HOME; nodicorn has no control socket
    } else {
      source.push(`${s.name} = ${s.default}`);
    }
  }
  source.push(`wsgi_app = "hello_app:app"`, `chdir = ${JSON.stringify(APPS)}`);
  writeFileSync(path.join(cwd, 'gunicorn.conf.py'), source.join('\n') + '\n');
  const r = await printConfig([], { cwd });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '', 'no unknown keys, nothing refused, nothing to warn about');
  const unknown = settings.filter((s) => !r.settings.has(s.name)).map((s) => s.name);
  assert.deepEqual(unknown, [], `--print-config lacks ${unknown.join(' ')}`);
  assert.equal(r.settings.get('post_fork'), '<post_fork()>', 'the hooks the file defines are known as hooks');
  assert.equal(r.settings.get('config'), path.join(cwd, 'gunicorn.conf.py'));
});

test('./gunicorn.conf.py is read without -c, and computes its values in Python; ./nodicorn.conf.py wins over it', async (t) => {
  const cwd = tempDir();
  writeFileSync(
    path.join(cwd, 'gunicorn.conf.py'),
    'import multiprocessing, os\n' +
      'workers = min(2, multiprocessing.cpu_count() * 2 + 1)\n' +
      `wsgi_app = "hello_app:app"\nchdir = ${JSON.stringify(APPS)}\n` +
      'raw_env = ["FROM_GUNICORN_CONF=" + os.environ.get("CONF_INPUT", "none")]\n',
  );
  const server = await serverFor(t, [], { cwd, env: { ...CLEAN, CONF_INPUT: 'yes' } });
  await waitUntil(() => bootedPids(server).length === 2, 20_000);
  assert.equal(await getText(server.port, '/'), 'hello');

  // Only one file is read: the one written for nodicorn.
  writeFileSync(path.join(cwd, 'nodicorn.conf.py'), `workers = 3\nwsgi_app = "hello_app:app"\nchdir = ${JSON.stringify(APPS)}\n`);
  const both = await printConfig([], { cwd });
  assert.equal(both.code, 0, both.stderr);
  assert.equal(both.settings.get('workers'), '3');
  assert.equal(both.settings.get('config'), path.join(cwd, 'nodicorn.conf.py'));
});

test('GUNICORN_CMD_ARGS is read as gunicorn reads it: above the config file, below NODICORN_CMD_ARGS and argv', async () => {
  const cwd = tempDir();
  writeFileSync(path.join(cwd, 'gunicorn.conf.py'), `workers = 2\ntimeout = 5\nkeepalive = 9\nwsgi_app = "hello_app:app"\nchdir = ${JSON.stringify(APPS)}\n`);
  const r = await printConfig(['--keep-alive', '4'], {
    cwd,
    env: { GUNICORN_CMD_ARGS: "--workers 3 --timeout 7 --keep-alive 8 --access-logformat '%(h)s %(r)s'", NODICORN_CMD_ARGS: '--timeout 6' },
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.settings.get('workers'), '3', 'GUNICORN_CMD_ARGS beats the config file');
  assert.equal(r.settings.get('timeout'), '6', 'NODICORN_CMD_ARGS beats GUNICORN_CMD_ARGS');
  assert.equal(r.settings.get('keepalive'), '4', 'argv beats both');
  assert.equal(r.settings.get('access_log_format'), '%(h)s %(r)s', 'shell quoting as shlex.split');

  const bad = await runCli(['hello_app:app', '--chdir', APPS, '--check-config'], { env: { ...CLEAN, GUNICORN_CMD_ARGS: '--workers none' }, timeout: 30_000 });
  assert.equal(bad.code, 2);
  assert.deepEqual(lines(bad.stderr), ['nodicorn: error: --workers (from GUNICORN_CMD_ARGS): expected a positive integer, got "none"']);
});

test('-c python:module.name reads a config module from the Python path', async () => {
  const cwd = tempDir();
  writeFileSync(path.join(cwd, 'deploy_settings.py'), `workers = 4\nloglevel = "warning"\nchdir = ${JSON.stringify(APPS)}\ndef post_fork(server, worker):\n    pass\n`);
  const r = await printConfig(['hello_app:app', '-c', 'python:deploy_settings'], { cwd });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.settings.get('workers'), '4');
  assert.equal(r.settings.get('loglevel'), 'warning');
  assert.equal(r.settings.get('post_fork'), '<post_fork()>');
  const missing = await runCli(['hello_app:app', '-c', 'python:no_such_settings_module'], { cwd, env: CLEAN, timeout: 30_000 });
  assert.equal(missing.code, 2);
  assert.match(lines(missing.stderr)[0], /--config \(from argv\): .*ModuleNotFoundError: No module named 'no_such_settings_module'/);
});

test('--check-config: 0 when the config and the app import are fine, 1 with the traceback when the app fails, 2 for a bad setting', async () => {
  const ok = await runCli(['hello_app:app', '--chdir', APPS, '-w', '2', '--check-config'], { env: CLEAN, timeout: 60_000 });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, '');

  const broken = await runCli(['import_error:app', '--chdir', APPS, '--check-config'], { env: CLEAN, timeout: 60_000 });
  assert.equal(broken.code, 1, broken.stderr);
  assert.match(broken.stderr, /Error while loading the application/);
  assert.match(broken.stderr, /Traceback \(most recent call last\)/);

  const badSetting = await runCli(['hello_app:app', '--chdir', APPS, '--umask', 'rw', '--check-config'], { env: CLEAN, timeout: 60_000 });
  assert.equal(badSetting.code, 2);
  assert.equal(lines(badSetting.stderr).length, 1);
  assert.match(badSetting.stderr, /--umask \(from argv\): expected/);
});

test('--print-config prints every setting sorted as name = value, and exits', async () => {
  const r = await printConfig(['hello_app:app', '--chdir', APPS, '-w', '3', '-b', 'unix:/tmp/x.sock', '--umask', '0o007', '--preload']);
  assert.equal(r.code, 0, r.stderr);
  const names = lines(r.stdout).map((l) => l.split(' ')[0]);
  assert.deepEqual(names, [...names].sort(), 'sorted by name');
  assert.ok(names.length >= 120, `${names.length} settings printed`);
  const aligned = new Set(lines(r.stdout).map((l) => l.indexOf(' = ')));
  assert.equal(aligned.size, 1, 'the = signs line up');
  assert.equal(r.settings.get('workers'), '3');
  assert.equal(r.settings.get('bind'), "['unix:/tmp/x.sock']");
  assert.equal(r.settings.get('umask'), '7');
  assert.equal(r.settings.get('preload_app'), 'True');
  assert.equal(r.settings.get('pidfile'), 'None');
  assert.equal(r.settings.get('wsgi_app'), 'hello_app:app');
});

test('-k sync and -k gthread run; sync with --threads > 1 is gthread, as in gunicorn', async (t) => {
  for (const [args, expected] of [
    [['-k', 'sync'], 'sync'],
    [['-k', 'sync', '--threads', '4'], 'gthread'],
    [['--worker-class', 'gthread'], 'gthread'],
    [['-k', 'gunicorn.workers.gthread.ThreadWorker'], 'gthread'],
    [['-k', 'egg:gunicorn#sync'], 'sync'],
  ]) {
    const r = await printConfig(['hello_app:app', '--chdir', APPS, ...args]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.settings.get('worker_class'), expected, args.join(' '));
  }
  const server = await serverFor(t, ['hello_app:app', '--chdir', APPS, '-k', 'gthread', '--threads', '2'], { env: CLEAN });
  assert.equal(await getText(server.port, '/'), 'hello');
});

test('asynchronous worker classes are refused with one line saying what to use instead', async () => {
  for (const cls of ['gevent', 'eventlet', 'tornado', 'gevent_pywsgi', 'asgi', 'uvicorn.workers.UvicornWorker', 'myproject.workers.Custom']) {
    const r = await runCli(['hello_app:app', '--chdir', APPS, '-k', cls], { env: CLEAN, timeout: 30_000 });
    assert.equal(r.code, 2, `${cls}: ${r.stderr}`);
    const err = lines(r.stderr);
    assert.equal(err.length, 1, r.stderr);
    assert.match(err[0], new RegExp(`--worker-class ${cls.replace(/\./g, '\\.')} \\(from argv\\): refused: .*use`));
  }
});

test('a refused setting stops startup with one line and exit 2; a no-effect one warns once and serves', async (t) => {
  for (const args of [['--paste', 'development.ini'], ['--dirty-workers', '2'], ['--protocol', 'uwsgi'], ['--http2-cleartext', 'upgrade'], ['--header-map', 'dangerous']]) {
    const r = await runCli(['hello_app:app', '--chdir', APPS, ...args], { env: CLEAN, timeout: 30_000 });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    const err = lines(r.stderr);
    assert.equal(err.length, 1, r.stderr);
    assert.match(err[0], new RegExp(`^nodicorn: error: ${args[0]}.*\\(from argv\\): refused: `));
  }
  const server = await serverFor(t, ['hello_app:app', '--chdir', APPS, '--spew', '--http-parser', 'fast', '--ssl-version', '2'], { env: CLEAN });
  assert.equal(await getText(server.port, '/'), 'hello');
  const warnings = server.stderrLines.filter((l) => l.includes('warning:'));
  assert.equal(warnings.filter((l) => l.includes('--spew')).length, 1, warnings.join('\n'));
  assert.equal(warnings.filter((l) => l.includes('--http-parser')).length, 1, warnings.join('\n'));
  assert.equal(warnings.filter((l) => l.includes('--ssl-version')).length, 0, 'the default spelled out is no change');
  assert.match(warnings.find((l) => l.includes('--spew')), /accepted, but has no effect: /);
});

test('argparse forms gunicorn takes: unique prefixes, --proxy-protocol with or without its mode, --no-sendfile', async () => {
  const r = await printConfig(['--max-requests-j', '5', '--proxy-protocol', 'hello_app:app', '--chdir', APPS, '--no-sendfile']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.settings.get('max_requests_jitter'), '5');
  assert.equal(r.settings.get('proxy_protocol'), 'True');
  assert.equal(r.settings.get('wsgi_app'), 'hello_app:app', 'the optional mode did not eat the app');
  assert.equal(r.settings.get('sendfile'), 'False');
  const off = await printConfig(['hello_app:app', '--chdir', APPS, '--proxy-protocol', 'off']);
  assert.equal(off.settings.get('proxy_protocol'), 'False');
  const ambiguous = await runCli(['hello_app:app', '--work', '2'], { env: CLEAN, timeout: 30_000 });
  assert.equal(ambiguous.code, 2);
  assert.match(lines(ambiguous.stderr)[0], /--work \(from argv\): ambiguous, expected one of --workers, --worker-class/);
});
