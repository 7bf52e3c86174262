import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../errors';
import { shellSplit } from './argv';
import { loadConfig } from './load';
import { baseEnv, load, loadError, tempDir } from './load-testing';
import { VALUE_ENTRIES, envName } from './settings';

test('every setting has a NODICORN_ env var and a config-file key (except config)', () => {
  for (const { key, env, setting } of VALUE_ENTRIES) {
    assert.equal(env, envName(key));
    assert.match(env ?? "", /^NODICORN_[A-Z0-9_]+$/);
    if (key !== 'config') assert.ok(setting.file, key);
  }
  assert.equal(envName('accessLogfile'), 'NODICORN_ACCESS_LOGFILE');
});

test('argv forms: --flag value, --flag=value, -w 4, -w4, -w=4', async () => {
  for (const argv of [['--workers', '4'], ['--workers=4'], ['-w', '4'], ['-w4'], ['-w=4']]) {
    const { config } = await load([...argv, 'app:x']);
    assert.equal(config.workers, 4, argv.join(' '));
  }
});

test('argv: the app may come anywhere, last scalar wins, repeatables accumulate, -- ends flags', async () => {
  const { config } = await load(['-w', '2', 'app:x', '-w', '3', '-b', ':0', '--bind', 'unix:/tmp/s.sock', '-b=[::1]:0', '--threads', '5']);
  assert.equal(config.app, 'app:x');
  assert.equal(config.workers, 3);
  assert.deepEqual(config.bind, [':0', 'unix:/tmp/s.sock', '[::1]:0']);
  assert.equal(config.threads, 5);

  const after = await load(['--workers', '2', '--', 'app:y']);
  assert.equal(after.config.app, 'app:y');
  assert.equal(after.config.workers, 2);
  assert.equal(await loadError(['--', '-w', 'app:y']), 'APP_MODULE (from argv): expected one app, got 2: "-w" "app:y"');
});

test('argv: "-" is a value, --log-file is --error-logfile, -e and --env repeat', async () => {
  const { config } = await load([
    '--access-logfile', '-', '--log-file', '/tmp/x.log', '-e', 'A=1', '--env', 'B=two=2', 'app', '--log-level', 'WARNING',
    '--pythonpath', 'a, b,,c', '-n', 'web', '--log-format', 'json', '--python', '/usr/bin/python3', '--chdir', '/srv',
  ]);
  assert.equal(config.accessLogfile, '-');
  assert.equal(config.errorLogfile, '/tmp/x.log');
  assert.deepEqual(config.rawEnv, ['A=1', 'B=two=2']);
  assert.equal(config.logLevel, 'warning');
  assert.deepEqual(config.pythonpath, ['a', 'b', 'c']);
  assert.equal(config.name, 'web');
  assert.equal(config.logFormat, 'json');
  assert.equal(config.python, '/usr/bin/python3');
  assert.equal(config.chdir, '/srv');
});

test('bind forms: HOST:PORT, [v6]:PORT, :PORT, HOST, unix:PATH, fd://N, port 0', async () => {
  const forms = ['127.0.0.1:8000', 'localhost:0', '[::1]:8080', ':5000', 'example.com', 'unix:/tmp/app.sock', 'fd://3', '0.0.0.0:0'];
  const { config } = await load([...forms.flatMap((f) => ['-b', f]), 'app']);
  assert.deepEqual(config.bind, forms);
  for (const bad of ['foo:bar', '::1:80', '[::1', 'unix:', 'host:70000', 'a b:1', 'fd://x']) {
    assert.equal(
      await loadError(['-b', bad, 'app']),
      `--bind (from argv): expected HOST:PORT, [HOST]:PORT, :PORT or unix:PATH, got ${JSON.stringify(bad)}`,
    );
  }
});

test('help and version win over everything else on the command line', async () => {
  for (const flag of ['-h', '--help']) {
    const r = await loadConfig(['--workers', 'nonsense', flag], baseEnv(), tempDir());
    assert.equal(r.kind, 'help');
    assert.match((r as { text: string }).text, /^usage: nodicorn/);
  }
  for (const flag of ['-v', '--version']) {
    const r = await loadConfig([flag], baseEnv(), tempDir());
    assert.equal(r.kind, 'version');
    assert.match((r as { text: string }).text, /^nodicorn \(version \d+\.\d+\.\d+.*\)\n$/);
  }
});

test('error messages name the flag, the source and what was expected', async () => {
  assert.equal(await loadError(['-w', 'abc', 'app']), '--workers (from argv): expected a positive integer, got "abc"');
  assert.equal(await loadError(['-w', '0', 'app']), '--workers (from argv): expected a positive integer, got "0"');
  assert.equal(await loadError(['app'], { NODICORN_WORKERS: 'abc' }), '--workers (from env NODICORN_WORKERS): expected a positive integer, got "abc"');
  assert.equal(
    await loadError(['app'], { NODICORN_CMD_ARGS: '--timeout soon' }),
    '--timeout (from NODICORN_CMD_ARGS): expected a number of seconds (0 or more), got "soon"',
  );
  assert.equal(await loadError(['app'], { WEB_CONCURRENCY: 'many' }), '--workers (from env WEB_CONCURRENCY): expected a positive integer, got "many"');
  assert.equal(await loadError(['app'], { PORT: 'http' }), '--bind (from env PORT): expected a port number (0-65535), got "http"');
  assert.equal(await loadError(['app', '--log-level', 'loud']), '--log-level (from argv): expected one of debug, info, warning, error, critical, got "loud"');
  assert.equal(await loadError(['app', '--log-format', 'xml']), '--log-format (from argv): expected one of text, json, got "xml"');
  assert.equal(await loadError(['app', '-e', 'NOEQUALS']), '--env (from argv): expected KEY=VALUE, got "NOEQUALS"');
  assert.equal(await loadError(['app', '-e', '=x']), '--env (from argv): expected KEY=VALUE, got "=x"');
  assert.equal(await loadError(['app', '--max-requests', '-1']), '--max-requests (from argv): expected a non-negative integer, got "-1"');
  assert.equal(await loadError(['app', '--backlog']), '--backlog (from argv): expected a positive integer, got nothing');
  assert.equal(await loadError(['app', '--bind', '--workers', '2']), '--bind (from argv): expected HOST:PORT, [HOST]:PORT, :PORT or unix:PATH, got nothing');
  assert.equal(await loadError(['app', '--wrokers', '2']), '--wrokers (from argv): no such flag (see --help)');
  assert.equal(await loadError(['app', '--wrokers=2']), '--wrokers (from argv): no such flag (see --help)');
  assert.equal(await loadError(['app', '-x']), '-x (from argv): no such flag (see --help)');
  assert.equal(await loadError(['a', 'b']), 'APP_MODULE (from argv): expected one app, got 2: "a" "b"');
  assert.equal(await loadError(['app', '-c', 'missing.py']), '--config (from argv): expected an existing file, got "missing.py"');
  assert.equal(await loadError(['app'], { NODICORN_CMD_ARGS: '--name "unclosed' }), 'NODICORN_CMD_ARGS: expected a closing " quote, got "--name \\"unclosed"');
  assert.equal(await loadError(['app', '--version=1']), '--version (from argv): takes no value, got "1"');
  assert.match(await loadError([]), /^APP_MODULE: expected an app such as module:application .*got nothing$/);
});

test('proxy settings: gunicorn\u2019s flags and config keys, FORWARDED_ALLOW_IPS, errors naming the item', async () => {
  const { config } = await load([
    'app', '--forwarded-allow-ips', '10.0.0.0/8, ::1,[fd00::1]', '--proxy-protocol', '--proxy-allow-from', '*',
    '--secure-scheme-headers', 'X-Forwarded-Proto: https , X-Scheme:on',
  ]);
  assert.deepEqual(config.forwardedAllowIps, ['10.0.0.0/8', '::1', '[fd00::1]']);
  assert.equal(config.proxyProtocol, true);
  assert.deepEqual(config.proxyAllowIps, ['*']);
  assert.deepEqual(config.secureSchemeHeaders, { 'X-FORWARDED-PROTO': 'https', 'X-SCHEME': 'on' });
  assert.deepEqual((await load(['app', '--secure-scheme-headers', ''])).config.secureSchemeHeaders, {});

  const fromEnv = await load(['app'], { FORWARDED_ALLOW_IPS: '*' });
  assert.deepEqual(fromEnv.config.forwardedAllowIps, ['*']);
  assert.equal(fromEnv.sources.forwardedAllowIps, 'env FORWARDED_ALLOW_IPS');
  assert.deepEqual((await load(['app'], { FORWARDED_ALLOW_IPS: '*', NODICORN_FORWARDED_ALLOW_IPS: '10.1.1.1' })).config.forwardedAllowIps, ['10.1.1.1']);

  const cwd = tempDir();
  writeFileSync(
    join(cwd, 'proxy.py'),
    'forwarded_allow_ips = ["10.0.0.1", "10.0.1.0/24"]\nproxy_protocol = True\nproxy_allow_ips = "10.0.0.1,10.0.0.2"\n' +
      'secure_scheme_headers = {"X-Forwarded-Proto": "https"}\n',
  );
  const file = await load(['-c', 'proxy.py', 'app'], {}, cwd);
  assert.deepEqual(file.config.forwardedAllowIps, ['10.0.0.1', '10.0.1.0/24']);
  assert.equal(file.config.proxyProtocol, true);
  assert.deepEqual(file.config.proxyAllowIps, ['10.0.0.1', '10.0.0.2']);
  assert.deepEqual(file.config.secureSchemeHeaders, { 'X-FORWARDED-PROTO': 'https' });

  const expected = 'a comma-separated list of IP addresses or CIDR networks (10.0.0.0/8, fd00::/8), or *';
  assert.equal(await loadError(['app', '--forwarded-allow-ips', '127.0.0.1,localhost']), `--forwarded-allow-ips (from argv): expected ${expected}, got "localhost"`);
  assert.equal(await loadError(['app', '--proxy-allow-from', '10.0.0.0/33']), `--proxy-allow-from (from argv): expected ${expected}, got "10.0.0.0/33"`);
  assert.equal(await loadError(['app'], { FORWARDED_ALLOW_IPS: 'nope' }), `--forwarded-allow-ips (from env FORWARDED_ALLOW_IPS): expected ${expected}, got "nope"`);
  assert.match(await loadError(['app', '--secure-scheme-headers', 'X-Forwarded-Proto']), /^--secure-scheme-headers \(from argv\): expected header:value pairs .*, got "X-Forwarded-Proto"$/);
  writeFileSync(join(cwd, 'bad.py'), 'secure_scheme_headers = {"X-Forwarded-Proto": 1}\n');
  assert.match(await loadError(['-c', 'bad.py', 'app'], {}, cwd), /^--secure-scheme-headers \(from config file .*bad\.py, key secure_scheme_headers\): expected .*, got \{"X-Forwarded-Proto":1\}$/);
});

test('slow-client and connection settings: values, config-file lists and one-line errors', async () => {
  const { config } = await load([
    'app', '--body-buffer-size', '1024', '--stream-request-paths', '/upload, /ws', '--header-timeout', '2.5',
    '--body-timeout', '0', '--body-min-rate', '0', '--worker-connections', '0', '--spool-dir', '/srv/spool', '--max-temp-file-size', '0',
  ]);
  assert.deepEqual(
    [config.bodyBufferSize, config.streamRequestPaths, config.headerTimeout, config.bodyTimeout, config.bodyMinRate, config.workerConnections, config.spoolDir, config.maxTempFileSize],
    [1024, ['/upload', '/ws'], 2.5, 0, 0, 0, '/srv/spool', 0],
  );
  const cwd = tempDir();
  writeFileSync(join(cwd, 'conf.json'), JSON.stringify({ stream_request_paths: ['/a', '/b/'], worker_connections: 10 }));
  const fromFile = await load(['app', '-c', 'conf.json'], {}, cwd);
  assert.deepEqual(fromFile.config.streamRequestPaths, ['/a', '/b/']);
  assert.equal(fromFile.config.workerConnections, 10);
  assert.equal(
    await loadError(['app', '--stream-request-paths', '/ok,upload']),
    '--stream-request-paths (from argv): expected a comma-separated list of paths starting with /, got "upload"',
  );
  assert.equal(await loadError(['app', '--body-buffer-size', '0']), '--body-buffer-size (from argv): expected a positive integer, got "0"');
  assert.equal(await loadError(['app', '--header-timeout', 'never']), '--header-timeout (from argv): expected a number of seconds (0 or more), got "never"');
  assert.equal(await loadError(['app', '--worker-connections', '-5']), '--worker-connections (from argv): expected a non-negative integer, got "-5"');
});

test('env vars: NODICORN_* set every setting; empty ones count as unset; repeatables split like a shell', async () => {
  const { config, sources } = await load(['app'], {
    NODICORN_WORKERS: '3',
    NODICORN_BIND: "127.0.0.1:0 'unix:/tmp/a b.sock'",
    NODICORN_RAW_ENV: 'A=1 "B=two words"',
    NODICORN_ACCESS_LOGFILE: '-',
    NODICORN_LOG_LEVEL: 'debug',
    NODICORN_THREADS: '',
  });
  assert.equal(config.workers, 3);
  assert.deepEqual(config.bind, ['127.0.0.1:0', 'unix:/tmp/a b.sock']);
  assert.deepEqual(config.rawEnv, ['A=1', 'B=two words']);
  assert.equal(config.accessLogfile, '-');
  assert.equal(config.logLevel, 'debug');
  assert.equal(config.threads, 1);
  assert.equal(sources.workers, 'env NODICORN_WORKERS');
  assert.equal(sources.threads, 'default');
  const app = await load([], { NODICORN_APP: 'from.env:app' });
  assert.equal(app.config.app, 'from.env:app');
});

test('WEB_CONCURRENCY and PORT feed the defaults, and say so in sources', async () => {
  const { config, sources } = await load(['app'], { WEB_CONCURRENCY: '5', PORT: '9000' });
  assert.equal(config.workers, 5);
  assert.deepEqual(config.bind, ['0.0.0.0:9000']);
  assert.equal(sources.workers, 'env WEB_CONCURRENCY');
  assert.equal(sources.bind, 'env PORT');
  const over = await load(['app', '-w', '2', '-b', ':0'], { WEB_CONCURRENCY: 'bad', PORT: 'bad' });
  assert.equal(over.config.workers, 2, 'an overridden default is not read');
});

test('NODICORN_CMD_ARGS: shell-like quoting, may carry the app', async () => {
  const { config, sources } = await load([], {
    NODICORN_CMD_ARGS: `--access-logformat '%(h)s "%(r)s"' -e "GREETING=hello world" -e X=a\\ b cmd:app -w3`,
  });
  assert.equal(config.accessLogformat, '%(h)s "%(r)s"');
  assert.deepEqual(config.rawEnv, ['GREETING=hello world', 'X=a b']);
  assert.equal(config.app, 'cmd:app');
  assert.equal(config.workers, 3);
  assert.equal(sources.app, 'NODICORN_CMD_ARGS');
});

test('shellSplit', () => {
  assert.deepEqual(shellSplit('  a  b\tc\n', 'X'), ['a', 'b', 'c']);
  assert.deepEqual(shellSplit(`'a b' "c \\"d\\" \\\\ \\x" e\\ f ''`, 'X'), ['a b', 'c "d" \\ \\x', 'e f', '']);
  assert.deepEqual(shellSplit(`x'y'"z"`, 'X'), ['xyz']);
  assert.deepEqual(shellSplit('', 'X'), []);
  assert.throws(() => shellSplit("'open", 'X'), ConfigError);
});

const PY_CONFIG = `
import multiprocessing, os
_private = 1
bind = ["127.0.0.1:0", "unix:/tmp/from-file.sock"]
workers = 2
threads = 3
timeout = 10
keepalive = 5
graceful_timeout = 8
max_requests = 100
accesslog = "-"
errorlog = None
loglevel = "DEBUG"
access_log_format = '%(h)s %(s)s'
raw_env = ["FROM=file"]
pythonpath = ["lib", "vendor"]
proc_name = "from-file"
wsgi_app = "file.app:application"
helper = multiprocessing.cpu_count() * 0 + 7
print("config files may print; stdout is not the channel")
def on_starting(server):
    pass
weird = object()
`;

test('precedence: defaults < config file < env < NODICORN_CMD_ARGS < argv (a real Python config file)', async () => {
  const cwd = tempDir();
  writeFileSync(join(cwd, 'nodicorn.conf.py'), PY_CONFIG.replace('errorlog = None\n', ''));
  const { config, sources, warnings } = await load(
    ['--keep-alive', '7', '-b', ':0'],
    {
      WEB_CONCURRENCY: '9',
      NODICORN_THREADS: '4',
      NODICORN_TIMEOUT: '11',
      NODICORN_KEEP_ALIVE: '12',
      NODICORN_CMD_ARGS: '--timeout 12 --keep-alive 6',
    },
    cwd,
  );
  assert.equal(config.config, join(cwd, 'nodicorn.conf.py'));
  assert.equal(config.app, 'file.app:application');
  assert.equal(config.workers, 2, 'file beats WEB_CONCURRENCY');
  assert.equal(config.threads, 4, 'env beats file');
  assert.equal(config.timeout, 12, 'NODICORN_CMD_ARGS beats env');
  assert.equal(config.keepAlive, 7, 'argv beats NODICORN_CMD_ARGS');
  assert.deepEqual(config.bind, [':0'], 'a higher source replaces a list whole');
  assert.equal(config.gracefulTimeout, 8);
  assert.equal(config.maxRequests, 100);
  assert.equal(config.maxRequestsJitter, 0);
  assert.equal(config.accessLogfile, '-');
  assert.equal(config.logLevel, 'debug');
  assert.equal(config.accessLogformat, '%(h)s %(s)s');
  assert.deepEqual(config.rawEnv, ['FROM=file']);
  assert.deepEqual(config.pythonpath, ['lib', 'vendor']);
  assert.equal(config.name, 'from-file');
  const file = `config file ${join(cwd, 'nodicorn.conf.py')}`;
  assert.deepEqual(
    { app: sources.app, workers: sources.workers, threads: sources.threads, timeout: sources.timeout, keepAlive: sources.keepAlive, backlog: sources.backlog, config: sources.config },
    { app: file, workers: file, threads: 'env NODICORN_THREADS', timeout: 'NODICORN_CMD_ARGS', keepAlive: 'argv', backlog: 'default', config: 'default' },
  );
  assert.deepEqual(warnings, [`${file}: unknown setting "helper" ignored`, `${file}: unknown name "weird" is not a plain value; ignored`]);
});

test('config file: -c path, None means off, errors name the file and key', async () => {
  const cwd = tempDir();
  writeFileSync(join(cwd, 'other.py'), 'accesslog = None\nworkers = 3\n');
  const { config, sources } = await load(['-c', 'other.py', 'app'], { NODICORN_ACCESS_LOGFILE: '' }, cwd);
  assert.equal(config.accessLogfile, null);
  assert.equal(config.workers, 3);
  assert.equal(sources.config, 'argv');
  assert.equal((await load(['-c', 'file:other.py', 'app'], {}, cwd)).config.workers, 3, "gunicorn's file: prefix");

  writeFileSync(join(cwd, 'bad.py'), 'workers = "many"\n');
  assert.equal(
    await loadError(['-c', 'bad.py', 'app'], {}, cwd),
    `--workers (from config file ${join(cwd, 'bad.py')}, key workers): expected a positive integer, got "many"`,
  );
  writeFileSync(join(cwd, 'bad2.py'), 'workers = 0\nbind = 8000\n');
  assert.equal(
    await loadError(['-c', 'bad2.py', 'app'], {}, cwd),
    `--workers (from config file ${join(cwd, 'bad2.py')}, key workers): expected a positive integer, got 0`,
  );
  writeFileSync(join(cwd, 'bad3.py'), 'bind = ["127.0.0.1:0", "nope:nope"]\n');
  assert.equal(
    await loadError(['-c', 'bad3.py', 'app'], {}, cwd),
    `--bind (from config file ${join(cwd, 'bad3.py')}, key bind): expected HOST:PORT, [HOST]:PORT, :PORT or unix:PATH, got "nope:nope"`,
  );
  writeFileSync(join(cwd, 'broken.py'), 'workers = undefined_name\n');
  assert.equal(
    await loadError(['-c', 'broken.py', 'app'], { NODICORN_CMD_ARGS: '' }, cwd),
    `--config (from argv): expected a config file that runs, got an error from "${join(cwd, 'broken.py')}": NameError: name 'undefined_name' is not defined`,
  );
  assert.equal(
    await loadError(['app'], { NODICORN_CONFIG: 'broken.py' }, cwd),
    `--config (from env NODICORN_CONFIG): expected a config file that runs, got an error from "${join(cwd, 'broken.py')}": NameError: name 'undefined_name' is not defined`,
  );
});

test('config file: the working directory is importable from it', async () => {
  const cwd = tempDir();
  writeFileSync(join(cwd, 'shared_settings.py'), 'WORKERS = 6\n');
  writeFileSync(join(cwd, 'nodicorn.conf.py'), 'from shared_settings import WORKERS as workers\n');
  const { config, warnings } = await load(['app'], {}, cwd);
  assert.equal(config.workers, 6);
  assert.deepEqual(warnings, []);
});

test('config file: .json with the same keys', async () => {
  const cwd = tempDir();
  writeFileSync(join(cwd, 'conf.json'), JSON.stringify({ bind: '127.0.0.1:0', workers: 2, accesslog: null, wsgi_app: 'j:app', unknown_key: true }));
  const { config, warnings } = await load(['-c', 'conf.json'], {}, cwd);
  assert.deepEqual(config.bind, ['127.0.0.1:0']);
  assert.equal(config.workers, 2);
  assert.equal(config.accessLogfile, null);
  assert.equal(config.app, 'j:app');
  assert.deepEqual(warnings, [`config file ${join(cwd, 'conf.json')}: unknown setting "unknown_key" ignored`]);
  writeFileSync(join(cwd, 'list.json'), '[1]');
  assert.equal(await loadError(['-c', 'list.json', 'app'], {}, cwd), `--config (from argv): expected a JSON object in "${join(cwd, 'list.json')}", got an array`);
});
