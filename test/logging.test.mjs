// Logging integrations as gunicorn has them: StatsD metrics, syslog, Python log configs in the
// workers, and the refusals (a custom --logger-class, unix datagram sockets).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { APPS, CLI, PYTHON, request, runCli, serverFor, sleep, waitUntil } from './helpers.mjs';

async function udpReceiver(t) {
  const socket = createSocket('udp4');
  const datagrams = [];
  socket.on('message', (m) => datagrams.push(m.toString('utf8')));
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  t.after(() => socket.close());
  return { port: socket.address().port, datagrams };
}

const tmp = () => mkdtempSync(path.join(tmpdir(), 'nodicorn-logging-'));

test('StatsD: gunicorn\u2019s metric names and types, with the prefix and dogstatsd tags', async (t) => {
  const statsd = await udpReceiver(t);
  const server = await serverFor(t, [
    'logging_app:app', '--chdir', APPS, '-w', '2',
    '--statsd-host', `127.0.0.1:${statsd.port}`, '--statsd-prefix', 'web', '--dogstatsd-tags', 'env:test,svc:a',
    '--enable-backlog-metric',
  ], { waitWorkers: 2 });
  assert.equal((await request(server.port, { path: '/' })).status, 200);
  assert.equal((await request(server.port, { path: '/missing' })).status, 404);
  assert.equal((await request(server.port, { path: '/boom' })).status, 500);
  const lines = () => statsd.datagrams.join('\n').split('\n');
  const sum = (name) => lines().filter((l) => l.startsWith(`web.${name}:`)).reduce((n, l) => n + Number(/:(\d+)\|c\|@1\.0\|/.exec(l)?.[1] ?? NaN), 0);
  await waitUntil(() => sum('gunicorn.requests') === 3 && lines().some((l) => l.startsWith('web.gunicorn.backlog:')), 10_000);
  for (const line of lines()) {
    assert.match(line, /^web\.gunicorn\.[a-z0-9.]+:[\d.]+\|(c\|@1\.0|ms|g|h)\|#env:test,svc:a$/, line);
  }
  assert.equal(sum('gunicorn.request.status.200'), 1);
  assert.equal(sum('gunicorn.request.status.404'), 1);
  assert.equal(sum('gunicorn.request.status.500'), 1);
  const durations = lines().filter((l) => l.startsWith('web.gunicorn.request.duration:'));
  assert.equal(durations.length, 3);
  for (const d of durations) assert.ok(Number(/:([\d.]+)\|ms/.exec(d)[1]) < 10_000, d);
  assert.ok(lines().includes('web.gunicorn.workers:2|g|#env:test,svc:a'), lines().join('\n'));
  assert.ok(lines().some((l) => /^web\.gunicorn\.backlog:0\|h\|/.test(l)));
  // The app's exception is logged with its traceback: gunicorn counts that as log.exception.
  assert.equal(sum('gunicorn.log.exception'), 1);
});

test('StatsD with --frontends 2: the master alone sends the pool (one gunicorn.workers value, 2); each request is counted once', async (t) => {
  const statsd = await udpReceiver(t);
  const server = await serverFor(t, [
    'logging_app:app', '--chdir', APPS, '-w', '2', '--frontends', '2', '--statsd-host', `127.0.0.1:${statsd.port}`, '--enable-backlog-metric',
  ], { waitWorkers: 2 });
  // A new connection each: the requests spread over both front ends.
  for (let i = 0; i < 10; i++) assert.equal((await request(server.port, { path: '/' })).status, 200);
  const lines = () => statsd.datagrams.join('\n').split('\n');
  const sum = (name) => lines().filter((l) => l.startsWith(`${name}:`)).reduce((n, l) => n + Number(/:(\d+)\|c\|@1\.0$/.exec(l)?.[1] ?? NaN), 0);
  await waitUntil(() => sum('gunicorn.requests') === 10 && lines().includes('gunicorn.workers:2|g'), 15_000);
  // Past a few samples of the pool (one a second): a front end sending its own share would show 1.
  await sleep(3_000);
  const gauges = lines().filter((l) => l.startsWith('gunicorn.workers:'));
  assert.deepEqual([...new Set(gauges)], ['gunicorn.workers:2|g'], lines().join('\n'));
  const backlog = lines().filter((l) => l.startsWith('gunicorn.backlog:'));
  assert.ok(backlog.length > 0 && backlog.every((l) => l === 'gunicorn.backlog:0|h'), backlog.join('\n'));
  assert.equal(sum('gunicorn.requests'), 10);
  assert.equal(sum('gunicorn.request.status.200'), 10);
});

test('syslog over UDP: error and access lines as gunicorn sends them; --disable-redirect-access-to-syslog', async (t) => {
  for (const disableAccess of [false, true]) {
    const syslog = await udpReceiver(t);
    const args = ['logging_app:app', '--chdir', APPS, '--log-syslog', '--log-syslog-to', `udp://127.0.0.1:${syslog.port}`,
      '--log-syslog-prefix', 'demo', '--log-syslog-facility', 'local0'];
    if (disableAccess) args.push('--disable-redirect-access-to-syslog');
    const server = await serverFor(t, args);
    const tag = `t${Date.now()}`;
    assert.equal((await request(server.port, { path: '/boom' })).status, 500);
    await request(server.port, { path: `/?${tag}` });
    await waitUntil(() => syslog.datagrams.some((d) => d.includes('Error handling request')), 10_000);
    const listening = syslog.datagrams.find((d) => d.includes('Listening at:'));
    // local0 (16) * 8 + info (6) = 134; error (3) = 131. Python's handler ends each message with NUL.
    assert.match(listening, new RegExp(`^<134>gunicorn\\.demo\\.error: \\[${server.pid}\\] Listening at: http://127\\.0\\.0\\.1:${server.port} \\(${server.pid}\\)\\0$`));
    const error = syslog.datagrams.find((d) => d.includes('Error handling request'));
    assert.match(error, /^<131>gunicorn\.demo\.error: \[\d+\] Error handling request GET \/boom\n[\s\S]*RuntimeError: boom[\s\S]*\0$/);
    if (disableAccess) {
      await new Promise((r) => setTimeout(r, 300));
      assert.ok(!syslog.datagrams.some((d) => d.includes('.access:')), syslog.datagrams.join('\n'));
    } else {
      await waitUntil(() => syslog.datagrams.some((d) => d.includes(tag)), 10_000);
      const access = syslog.datagrams.find((d) => d.includes(tag));
      assert.match(access, new RegExp(`^<134>gunicorn\\.demo\\.access: \\[\\d+\\] 127\\.0\\.0\\.1 - - \\[[^\\]]+\\] "GET /\\?${tag} HTTP/1\\.1" 200 \\d+ "-" "-"\\0$`));
    }
    // The app's own stderr is not the server's log: it stays out of syslog, as under gunicorn.
    assert.ok(!syslog.datagrams.some((d) => d.includes('myapp info')));
    await server.stop();
  }
});

test('without a log config the app\u2019s logging behaves as under gunicorn, with and without --capture-output', async (t) => {
  for (const capture of [false, true]) {
    const server = await serverFor(t, ['logging_app:app', '--chdir', APPS, ...(capture ? ['--capture-output'] : [])]);
    const tag = `t${Date.now()}`;
    const pid = (await request(server.port, { path: `/gunicorn?${tag}` })).text();
    // gunicorn.error has --log-level (info) and a handler: the line has gunicorn's form, whoever
    // writes it (the worker on the shared stderr, or Node reading the worker's marked line).
    await server.waitStderr(new RegExp(`^\\[\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d [+-]\\d{4}\\] \\[${pid}\\] \\[INFO\\] via gunicorn\\.error ${tag}$`), 10_000);
    // An app logger without handlers: info is dropped by Python's last resort (warnings and up only).
    await request(server.port, { path: `/?${tag}` });
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(!server.stderrLines.some((l) => l.includes(`myapp info ${tag}`)));
    assert.ok(!server.stderrLines.some((l) => l.includes(`debug via gunicorn.error ${tag}`)));
    await server.stop();
  }
});

test('without --capture-output, gunicorn.error in the worker writes to the --error-logfile file, as gunicorn\u2019s does', async (t) => {
  const file = path.join(tmp(), 'error.log');
  // The "Listening at" line goes to the file, so the helper cannot wait for it: read the port there.
  const proc = spawn(process.execPath, [CLI, 'logging_app:app', '--chdir', APPS, '-b', '127.0.0.1:0', '--error-logfile', file,
    ...(PYTHON ? ['--python', PYTHON] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => proc.kill('SIGKILL'));
  const listening = /Listening at: http:\/\/127\.0\.0\.1:(\d+)/;
  await waitUntil(() => existsSync(file) && listening.test(readFileSync(file, 'utf8')), 15_000);
  const port = Number(listening.exec(readFileSync(file, 'utf8'))[1]);
  const tag = `t${Date.now()}`;
  const pid = (await request(port, { path: `/gunicorn?${tag}` })).text();
  await waitUntil(() => readFileSync(file, 'utf8').includes(tag), 10_000);
  assert.match(readFileSync(file, 'utf8'), new RegExp(`\\] \\[${pid}\\] \\[INFO\\] via gunicorn\\.error ${tag}\\n`));
});

test('--log-config-dict on the command line sends an app logger to a file; root goes to the error log', async (t) => {
  const dir = tmp();
  const file = path.join(dir, 'app.log');
  const dict = {
    formatters: { plain: { format: '%(name)s %(levelname)s %(message)s' } },
    handlers: {
      console: { class: 'logging.StreamHandler', stream: 'ext://sys.stderr' },
      file: { class: 'logging.FileHandler', filename: file, formatter: 'plain' },
    },
    loggers: { myapp: { level: 'DEBUG', handlers: ['file'], propagate: true } },
    root: { level: 'INFO', handlers: ['console'] },
  };
  const server = await serverFor(t, ['logging_app:app', '--chdir', APPS, '--log-config-dict', JSON.stringify(dict)]);
  const tag = `t${Date.now()}`;
  await request(server.port, { path: `/?${tag}` });
  await waitUntil(() => existsSync(file) && readFileSync(file, 'utf8').includes(`myapp debug ${tag}`), 10_000);
  assert.equal(readFileSync(file, 'utf8'), `myapp INFO myapp info ${tag}\nmyapp DEBUG myapp debug ${tag}\n`);
  // Propagated to root's handler too (stderr, in its bare format).
  await server.waitStderr(new RegExp(`^myapp info ${tag}$`), 10_000);
});

test('--log-config (fileConfig) sends an app logger to a file', async (t) => {
  const dir = tmp();
  const ini = path.join(dir, 'logging.ini');
  writeFileSync(ini, [
    '[loggers]', 'keys=root,myapp', '[handlers]', 'keys=file', '[formatters]', 'keys=plain',
    '[logger_root]', 'level=WARNING', 'handlers=',
    '[logger_myapp]', 'level=INFO', 'handlers=file', 'qualname=myapp', 'propagate=0',
    '[handler_file]', 'class=FileHandler', 'formatter=plain', "args=('%(here)s/app.log',)",
    '[formatter_plain]', 'format=[%(levelname)s] %(name)s: %(message)s', '',
  ].join('\n'));
  const server = await serverFor(t, ['logging_app:app', '--chdir', APPS, '--log-config', ini]);
  const tag = `t${Date.now()}`;
  await request(server.port, { path: `/?${tag}` });
  const file = path.join(dir, 'app.log');
  await waitUntil(() => existsSync(file) && readFileSync(file, 'utf8').includes(tag), 10_000);
  assert.equal(readFileSync(file, 'utf8'), `[INFO] myapp: myapp info ${tag}\n`);
});

test('refused with one line: a custom --logger-class, unix statsd and unix datagram syslog, a missing log config', async () => {
  const cases = [
    [['--logger-class', 'myproject.logging.CustomLogger'], /--logger-class myproject\.logging\.CustomLogger \(from .*\): refused: .*Node core/],
    [['--statsd-host', 'unix:///var/run/statsd.sock'], /--statsd-host: unix sockets are not supported/],
    [['--log-syslog', '--log-syslog-to', 'unix:///dev/log#dgram'], /--log-syslog-to: .*unix datagram socket.*udp:\/\//],
    [['--log-syslog', '--log-syslog-facility', 'nope'], /--log-syslog-facility: expected one of/],
    [['--log-config', '/nonexistent/logging.ini'], /--log-config: log config "\/nonexistent\/logging\.ini" not found/],
    // A dict Python's dictConfig cannot apply (here gunicorn's default loggers name the default
    // handlers it replaced away): found before anything starts, with its causes.
    [['--log-config-dict', '{"handlers": {}}'], /^nodicorn: error: --log-config-dict: Unable to configure .*KeyError: 'error_console'$/],
  ];
  for (const [flags, expected] of cases) {
    const r = await runCli(['logging_app:app', '--chdir', APPS, '-b', '127.0.0.1:0', ...flags]);
    assert.equal(r.code, 2, `${flags.join(' ')}: ${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], expected);
  }
});

test('gunicorn\u2019s own logger classes are accepted', async (t) => {
  const server = await serverFor(t, ['logging_app:app', '--chdir', APPS, '--logger-class', 'gunicorn.glogging.Logger']);
  assert.equal((await request(server.port, { path: '/' })).status, 200);
});

test('logconfig_dict in a gunicorn config file configures the app\u2019s logging', async (t) => {
  const dir = tmp();
  const file = path.join(dir, 'app.log');
  const conf = path.join(dir, 'gunicorn.conf.py');
  writeFileSync(conf, [
    'import os',
    'logconfig_dict = {',
    "    'handlers': {'file': {'class': 'logging.FileHandler', 'filename': os.path.join(os.path.dirname(__file__), 'app.log')}},",
    "    'loggers': {'myapp': {'level': 'INFO', 'handlers': ['file'], 'propagate': False}},",
    "    'root': {'level': 'WARNING', 'handlers': []},",
    '}', '',
  ].join('\n'));
  const server = await serverFor(t, ['logging_app:app', '--chdir', APPS, '-c', conf]);
  const tag = `t${Date.now()}`;
  await request(server.port, { path: `/?${tag}` });
  await waitUntil(() => existsSync(file) && readFileSync(file, 'utf8').includes(tag), 10_000);
  assert.equal(readFileSync(file, 'utf8'), `myapp info ${tag}\n`);
});

test('USR1 (logrotate) makes the workers reopen their log config\u2019s files, as gunicorn\u2019s do', { skip: process.platform === 'win32' }, async (t) => {
  const dir = tmp();
  const file = path.join(dir, 'app.log');
  const dict = {
    handlers: { file: { class: 'logging.FileHandler', filename: file } },
    loggers: { myapp: { level: 'INFO', handlers: ['file'], propagate: false } },
    root: { handlers: [] },
  };
  const server = await serverFor(t, ['logging_app:app', '--chdir', APPS, '-w', '2', '--log-config-dict', JSON.stringify(dict)], { waitWorkers: 2 });
  const pids = new Set();
  for (let i = 0; i < 6; i++) pids.add((await request(server.port, { path: `/?before${i}` })).text());
  await waitUntil(() => existsSync(file) && readFileSync(file, 'utf8').includes('before5'), 10_000);
  renameSync(file, `${file}.1`);
  server.proc.kill('SIGUSR1');
  await server.waitStderr(/reopened the log files/, 10_000);
  // The workers get USR1 right after: wait for the new file, which a worker creates on reopening.
  await waitUntil(() => existsSync(file), 10_000);
  for (let i = 0; i < 6; i++) await request(server.port, { path: `/?after${i}` });
  await waitUntil(() => readFileSync(file, 'utf8').includes('after5'), 10_000);
  assert.ok(!readFileSync(`${file}.1`, 'utf8').includes('after'), 'nothing new in the rotated file');
  assert.equal(readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith('myapp info after')).length, 6);
  // Both workers survived the signal.
  for (const pid of pids) assert.ok(server.stderrLines.every((l) => !l.includes(`Worker (pid:${pid})`)), server.stderrText());
});

test('a log config that routes gunicorn.error and gunicorn.access moves nodicorn\u2019s own lines there', async (t) => {
  const dir = tmp();
  const errors = path.join(dir, 'error.log');
  const accesses = path.join(dir, 'access.log');
  const dict = {
    handlers: {
      errors: { class: 'logging.FileHandler', filename: errors },
      accesses: { class: 'logging.FileHandler', filename: accesses },
      syslog: { class: 'logging.handlers.SysLogHandler', address: ['127.0.0.1', 9] },
    },
    loggers: {
      'gunicorn.error': { level: 'INFO', handlers: ['errors', 'syslog'], propagate: false },
      'gunicorn.access': { level: 'INFO', handlers: ['accesses'], propagate: false },
    },
    root: { handlers: [] },
  };
  // The "Listening at" line goes to the file, not stderr, so the test helper cannot wait for it.
  const proc = spawn(process.execPath, [CLI, 'logging_app:app', '--chdir', APPS, '-b', '127.0.0.1:0',
    '--log-config-dict', JSON.stringify(dict), ...(PYTHON ? ['--python', PYTHON] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => proc.kill('SIGKILL'));
  let stderr = '';
  proc.stderr.on('data', (d) => (stderr += d));
  await waitUntil(() => existsSync(errors) && /Listening at: http:\/\/127\.0\.0\.1:(\d+)/.test(readFileSync(errors, 'utf8')), 15_000);
  const port = Number(/Listening at: http:\/\/127\.0\.0\.1:(\d+)/.exec(readFileSync(errors, 'utf8'))[1]);
  const tag = `t${Date.now()}`;
  assert.equal((await request(port, { path: `/?${tag}` })).status, 200);
  await waitUntil(() => existsSync(accesses) && readFileSync(accesses, 'utf8').includes(tag), 10_000);
  assert.match(readFileSync(accesses, 'utf8'), new RegExp(`"GET /\\?${tag} HTTP/1\\.1" 200 `));
  // The SysLogHandler cannot be followed: one warning says so, in the error log it now writes.
  assert.match(readFileSync(errors, 'utf8'), /\[WARNING\] --log-config-dict: nodicorn's own error lines cannot go to a SysLogHandler \(gunicorn\.error\); they go to .*error\.log/);
  assert.ok(!stderr.includes('Listening at'), stderr);
});

test('a log config that leaves gunicorn\u2019s default loggers in place sends access lines to stdout, as gunicorn does', async (t) => {
  const dict = { root: { level: 'WARNING', handlers: ['console'] } };
  const server = await serverFor(t, ['logging_app:app', '--chdir', APPS, '--log-config-dict', JSON.stringify(dict)]);
  const tag = `t${Date.now()}`;
  await request(server.port, { path: `/?${tag}` });
  await server.waitStdout(new RegExp(`"GET /\\?${tag} HTTP/1\\.1" 200 `), 10_000);
});
