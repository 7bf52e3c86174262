// The process settings, black-box: -p/--pid, -D/--daemon (and -R), -u/-g/--initgroups (as root),
// -m/--umask on a unix socket, -n in the process titles, --capture-output, --no-sendfile, and
// what a unix-socket bind gives the app (SERVER_NAME, SERVER_PORT) and the access log (%(p)s).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdtempSync, openSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { APPS, childPids, cliArgs, credentials, isAlive, request, runCli, serverFor, sleep, startListening } from './helpers.mjs';
import { pythonAs, userIds } from './lib/users.mjs';

const ROOT_USER = process.getuid?.() === 0;
const LINUX = process.platform === 'linux';

function tempDir(t) {
  const dir = mkdtempSync(path.join(tmpdir(), 'nodicorn-process-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A GET over a unix socket: { status, headers, body }. */
function unixGet(socketPath, target = '/', headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath, path: target, headers, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d) => (body += d)).on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timed out')));
  });
}

/** Raw bytes over a unix socket, read until the server closes. */
function unixRaw(socketPath, bytes) {
  return new Promise((resolve, reject) => {
    const c = net.connect(socketPath, () => c.write(bytes));
    let got = '';
    c.setEncoding('latin1').on('data', (d) => (got += d)).on('end', () => resolve(got)).on('error', reject);
    c.setTimeout(10_000, () => c.destroy(new Error('timed out')));
  });
}

function startUnix(t, args, opts) {
  return startListening(process.execPath, cliArgs(args), opts).then((server) => {
    t.after(() => server.kill());
    return server;
  });
}

test('-p writes the pid at start, refuses a second server on it, and is removed at a clean exit', async (t) => {
  const dir = tempDir(t);
  const pidfile = path.join(dir, 'nodicorn.pid');
  const server = await serverFor(t, ['hello_app:app', '--chdir', APPS, '-p', pidfile]);
  assert.equal(readFileSync(pidfile, 'utf8'), `${server.pid}\n`);
  assert.equal(statSync(pidfile).mode & 0o777, 0o644);
  const second = await runCli(['hello_app:app', '--chdir', APPS, '-p', pidfile, '-b', '127.0.0.1:0']);
  assert.equal(second.code, 1);
  assert.match(second.stderr, new RegExp(`--pid: already running on PID ${server.pid}`));
  assert.equal(readFileSync(pidfile, 'utf8'), `${server.pid}\n`, 'the refused server leaves the file alone');
  assert.equal((await server.stop()).code, 0);
  assert.equal(existsSync(pidfile), false);
});

test('-p with USR2: the new master writes PIDFILE.2, and takes PIDFILE once the old master is gone, as gunicorn 27', { skip: !LINUX && 'reads /proc' }, async (t) => {
  const dir = tempDir(t);
  const pidfile = path.join(dir, 'app.pid');
  const server = await serverFor(t, ['hello_app:app', '--chdir', APPS, '-p', pidfile]);
  let newPid = 0;
  t.after(() => { if (newPid && isAlive(newPid)) process.kill(newPid, 'SIGKILL'); });
  process.kill(server.pid, 'SIGUSR2');
  newPid = Number((await server.waitStderr(/USR2: started a new master \(pid: (\d+)\)/, 10_000))[1]);
  await server.waitStderr(new RegExp(`\\[${newPid}\\] \\[INFO\\] Listening at:`), 20_000);
  assert.equal(readFileSync(`${pidfile}.2`, 'utf8'), `${newPid}\n`);
  assert.equal(readFileSync(pidfile, 'utf8'), `${server.pid}\n`);
  assert.match(readFileSync(`/proc/${newPid}/cmdline`, 'utf8'), /^nodicorn: master \[hello_app:app\.2\]/);
  assert.equal((await server.stop()).code, 0);
  const promoted = () => existsSync(pidfile) && readFileSync(pidfile, 'utf8') === `${newPid}\n` && !existsSync(`${pidfile}.2`);
  for (let i = 0; i < 300 && !promoted(); i++) await sleep(50);
  assert.ok(promoted(), 'the promoted master names itself in PIDFILE');
  assert.match(readFileSync(`/proc/${newPid}/cmdline`, 'utf8'), /^nodicorn: master \[hello_app:app\]/);
  process.kill(newPid, 'SIGTERM');
  for (let i = 0; i < 400 && isAlive(newPid); i++) await sleep(50);
  assert.equal(isAlive(newPid), false);
  assert.equal(existsSync(pidfile), false);
});

test('-p over a stale pidfile (its process is gone) takes it over', async (t) => {
  const dir = tempDir(t);
  const pidfile = path.join(dir, 'stale.pid');
  // A pid that exists no more: a child that already exited.
  const gone = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => gone.on('exit', resolve));
  writeFileSync(pidfile, `${gone.pid}\n`);
  const server = await serverFor(t, ['hello_app:app', '--chdir', APPS, '-p', pidfile]);
  assert.equal(readFileSync(pidfile, 'utf8'), `${server.pid}\n`);
});

test('-D detaches: the command exits 0 once the server listens, and the daemon serves in its own session', { skip: !LINUX && 'reads /proc' }, async (t) => {
  const dir = tempDir(t);
  const pidfile = path.join(dir, 'd.pid');
  const log = path.join(dir, 'error.log');
  const cli = await runCli(['hello_app:app', '--chdir', APPS, '-D', '-p', pidfile, '--error-logfile', log, '-b', '127.0.0.1:0']);
  assert.equal(cli.code, 0, cli.stderr);
  const pid = Number(readFileSync(pidfile, 'utf8'));
  t.after(() => { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } });
  assert.ok(isAlive(pid));
  const port = Number(/Listening at: http:\/\/127\.0\.0\.1:(\d+)/.exec(readFileSync(log, 'utf8'))?.[1]);
  assert.equal((await request(port, { path: '/' })).status, 200);
  // setsid: the daemon leads its own session, with no terminal; its streams are /dev/null.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  assert.equal(Number(stat[3]), pid, 'session id');
  for (const fd of [0, 1, 2]) assert.equal(readlinkSync(`/proc/${pid}/fd/${fd}`), '/dev/null');
  assert.equal(process.env.NODICORN_DAEMON_STATUS_FD, undefined);
  const workerEnv = readFileSync(`/proc/${childPids(pid)[0]}/environ`, 'utf8');
  assert.ok(!workerEnv.includes('NODICORN_DAEMON_STATUS_FD'), 'the workers do not inherit the status pipe\'s name');
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 400 && isAlive(pid); i++) await sleep(50);
  assert.equal(isAlive(pid), false);
  assert.equal(existsSync(pidfile), false);
});

test('-D reports an app that cannot load: the command prints the error and exits with its code', async (t) => {
  const dir = tempDir(t);
  const cli = await runCli(['import_error:app', '--chdir', APPS, '-D', '--error-logfile', path.join(dir, 'e.log'), '-b', '127.0.0.1:0']);
  assert.equal(cli.code, 4, cli.stderr);
  assert.match(cli.stderr, /nodicorn: error: App failed to load/);
});

test('-D -R keeps output redirected to a file; without -R it goes to /dev/null', async (t) => {
  const dir = tempDir(t);
  for (const keep of [true, false]) {
    const out = path.join(dir, `out-${keep}.txt`);
    const fd = openSync(out, 'w');
    const pidfile = path.join(dir, `p-${keep}.pid`);
    const args = cliArgs(['hello_app:app', '--chdir', APPS, '-D', '-p', pidfile, '-b', '127.0.0.1:0', ...(keep ? ['-R'] : [])]);
    const proc = spawn(process.execPath, args, { stdio: ['ignore', fd, fd] });
    const code = await new Promise((resolve) => proc.on('exit', resolve));
    closeSync(fd);
    assert.equal(code, 0);
    const pid = Number(readFileSync(pidfile, 'utf8'));
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 400 && isAlive(pid); i++) await sleep(50);
    const text = readFileSync(out, 'utf8');
    if (keep) assert.match(text, /Listening at: /);
    else assert.doesNotMatch(text, /Listening at: /);
  }
});

test('a unix socket is created under --umask: 0 by default (any local user may connect), 0o007 keeps it to user and group', async (t) => {
  const dir = tempDir(t);
  for (const [args, mode] of [[[], 0o777], [['-m', '0o007'], 0o770], [['--umask', '022'], 0o755]]) {
    const sock = path.join(dir, `m${mode.toString(8)}.sock`);
    const server = await startUnix(t, ['hello_app:app', '--chdir', APPS, '-b', `unix:${sock}`, ...args]);
    assert.equal(statSync(sock).mode & 0o777, mode, `${args.join(' ')}`);
    assert.equal((await unixGet(sock)).status, 200);
    await server.stop();
  }
});

test('on a unix socket SERVER_NAME and SERVER_PORT come from Host, as gunicorn makes them; never empty', async (t) => {
  const dir = tempDir(t);
  const sock = path.join(dir, 'e.sock');
  await startUnix(t, ['echo_app:app', '--chdir', APPS, '-b', `unix:${sock}`]);
  const server = async (host) => {
    const res = await unixGet(sock, '/', { host });
    const env = JSON.parse(res.body).environ;
    return [env.SERVER_NAME, env.SERVER_PORT];
  };
  assert.deepEqual(await server('example.com:8080'), ['example.com', '8080']);
  assert.deepEqual(await server('example.com'), ['example.com', '80']);
  assert.deepEqual(await server('[::1]:9000'), ['[::1]', '9000']);
  // HTTP/1.0 without Host: the socket's path, and the scheme's port.
  const raw = await unixRaw(sock, 'GET / HTTP/1.0\r\n\r\n');
  const env = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)).environ;
  assert.deepEqual([env.SERVER_NAME, env.SERVER_PORT], [sock, '80']);
});

test('--root-path mounts the app: SCRIPT_NAME, taken off the front of PATH_INFO', async (t) => {
  const server = await serverFor(t, ['echo_app:app', '--chdir', APPS, '--root-path', '/shop/']);
  const environ = async (target) => JSON.parse((await request(server.port, { path: target })).text()).environ;
  const mounted = await environ('/shop/cart?x=1');
  assert.deepEqual([mounted.SCRIPT_NAME, mounted.PATH_INFO], ['/shop', '/cart']);
  const outside = await environ('/other');
  assert.deepEqual([outside.SCRIPT_NAME, outside.PATH_INFO], ['', '/other']);
});

test('%(p)s in the access log is the pid of the worker that ran the request', async (t) => {
  const server = await serverFor(t, ['hello_app:app', '--chdir', APPS, '-w', '2', '--access-logfile', '-', '--access-logformat', '%(p)s %(U)s'], { waitWorkers: 2 });
  const seen = new Set();
  for (let i = 0; i < 6; i++) {
    const res = await request(server.port, { path: `/n${i}` });
    const pid = res.get('x-worker-pid');
    assert.ok(pid);
    const m = await server.waitStdout(new RegExp(`^<(\\d+)> /n${i}$`));
    assert.equal(m[1], pid);
    seen.add(pid);
  }
  assert.ok(!seen.has(String(server.pid)));
});

test('-n sets the titles: "nodicorn: master [NAME]", and NAME for the workers', { skip: !LINUX && 'reads /proc' }, async (t) => {
  const server = await serverFor(t, ['hello_app:app', '--chdir', APPS, '-n', 'shop-frontend-x', '-w', '2'], { waitWorkers: 2 });
  await request(server.port, { path: '/' });
  assert.match(readFileSync(`/proc/${server.pid}/cmdline`, 'utf8'), /^nodicorn: master \[shop-frontend-x\]/);
  const workers = childPids(server.pid);
  assert.equal(workers.length, 2);
  for (const pid of workers) {
    // setproctitle, when installed, sets the whole title; else the kernel's 15-byte name. A
    // worker sets it first thing as it boots, which the second one may still be doing.
    const titled = () => {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      return cmdline.startsWith('nodicorn: worker [shop-frontend-x]') || comm === 'shop-frontend-x'.slice(0, 15) ? true : `${comm} / ${cmdline}`;
    };
    let state = titled();
    for (let i = 0; state !== true && i < 200; i++) {
      await sleep(50);
      state = titled();
    }
    assert.equal(state, true);
  }
});

test('HUP renames the master when the config file\'s proc_name changed, as gunicorn\'s reload', { skip: !LINUX && 'reads /proc' }, async (t) => {
  const dir = tempDir(t);
  const conf = path.join(dir, 'gunicorn.conf.py');
  writeFileSync(conf, 'proc_name = "before-hup"\n');
  const server = await serverFor(t, ['hello_app:app', '--chdir', APPS, '-c', conf]);
  assert.match(readFileSync(`/proc/${server.pid}/cmdline`, 'utf8'), /^nodicorn: master \[before-hup\]/);
  writeFileSync(conf, 'proc_name = "after-hup"\n');
  process.kill(server.pid, 'SIGHUP');
  const renamed = () => /^nodicorn: master \[after-hup\]/.test(readFileSync(`/proc/${server.pid}/cmdline`, 'utf8'));
  for (let i = 0; i < 300 && !renamed(); i++) await sleep(50);
  assert.ok(renamed());
});

test('without -n the titles name the app, as gunicorn\'s', { skip: !LINUX && 'reads /proc' }, async (t) => {
  const server = await serverFor(t, ['hello_app:app', '--chdir', APPS]);
  assert.match(readFileSync(`/proc/${server.pid}/cmdline`, 'utf8'), /^nodicorn: master \[hello_app:app\]/);
});

test('the workers write to the server\'s stdout and stderr; --capture-output puts the lines in the error log with their pid', async (t) => {
  const plain = await serverFor(t, ['printing_app:app', '--chdir', APPS]);
  const res = await request(plain.port, { path: '/?tag=plain1' });
  await plain.waitStdout(/^PRINT-STDOUT plain1$/);
  await plain.waitStderr(/^PRINT-STDERR plain1$/);
  const captured = await serverFor(t, ['printing_app:app', '--chdir', APPS, '--capture-output']);
  const res2 = await request(captured.port, { path: '/?tag=cap1' });
  const m = await captured.waitStderr(/\[(\d+)\] \[INFO\] PRINT-STDOUT cap1$/);
  assert.equal(m[1], res2.get('x-worker-pid'));
  assert.ok(res.status === 200 && !captured.stdoutLines.some((l) => l.includes('cap1')));
});

test('--no-sendfile: the worker reads a wsgi.file_wrapper file itself; by default the Node process does', { skip: !LINUX && 'reads /proc/PID/io' }, async (t) => {
  const readBy = async (args) => {
    const server = await serverFor(t, ['filewrapper_app:app', '--chdir', APPS, ...args], { waitWorkers: 1 });
    await request(server.port, { path: '/raw' }); // the file is created on first use
    const [worker] = childPids(server.pid);
    const rchar = () => Number(/^rchar: (\d+)$/m.exec(readFileSync(`/proc/${worker}/io`, 'utf8'))[1]);
    const before = rchar();
    const res = await request(server.port, { path: '/raw' });
    assert.equal(res.status, 200);
    assert.equal(res.body.length, 3 * 1024 * 1024 + 123);
    return rchar() - before;
  };
  assert.ok((await readBy([])) < 1024 * 1024, 'with sendfile the worker does not read the file');
  assert.ok((await readBy(['--no-sendfile'])) >= 3 * 1024 * 1024, 'with --no-sendfile the worker reads it');
});

test('--reuse-port on a Node that cannot set SO_REUSEPORT: a warning, and the server still serves', async (t) => {
  const [major, minor] = process.versions.node.split('.').map(Number);
  const capable = major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
  const server = await serverFor(t, ['hello_app:app', '--chdir', APPS, '--reuse-port']);
  assert.equal((await request(server.port, { path: '/' })).status, 200);
  assert.equal(server.stderrLines.some((l) => /--reuse-port: Node .* cannot set SO_REUSEPORT/.test(l)), !capable);
});

test('-u/-g: the Node process and the workers run as that user and group; the socket is theirs', { skip: !(ROOT_USER && LINUX) && 'runs as root on Linux only' }, async (t) => {
  const nobody = userIds('nobody');
  const found = pythonAs(nobody, ['hello_app'], APPS);
  if (found === null) {
    t.skip('no Python interpreter that the user nobody can run with this checkout (its directories must be readable by nobody)');
    return;
  }
  const dir = tempDir(t);
  chmodSync(dir, 0o755);
  for (const [args, groups] of [[['-u', 'nobody'], [nobody.gid]], [['-u', String(nobody.uid), '-g', 'nogroup', '--initgroups'], null]]) {
    const sock = path.join(dir, `u${args.length}.sock`);
    const server = await startUnix(t, ['hello_app:app', '--chdir', APPS, '-b', `unix:${sock}`, '-w', '2', '--python', found.python, ...args], { env: found.env });
    const res = await unixGet(sock);
    assert.equal(res.status, 200);
    const pids = [server.pid, ...childPids(server.pid)];
    assert.equal(pids.length, 3);
    for (const pid of pids) {
      const c = credentials(pid);
      assert.equal(c.uid, nobody.uid, `uid of ${pid}`);
      assert.equal(c.gid, nobody.gid, `gid of ${pid}`);
      if (groups) assert.deepEqual(c.groups, groups, 'no supplementary groups but the group itself');
      else assert.ok(!c.groups.includes(0), 'root\'s group is gone');
    }
    assert.equal(statSync(sock).uid, nobody.uid);
    assert.ok(server.stderrLines.some((l) => l.includes(`Running as uid ${nobody.uid}, gid ${nobody.gid}`)));
    assert.equal((await server.stop()).code, 0);
  }
});

test('-u/-g mistakes are one line each, exit 2', async () => {
  const r = await runCli(['hello_app:app', '--chdir', APPS, '-u', 'no-such-user-nodicorn', '-b', '127.0.0.1:0']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, ROOT_USER ? /--user: no such user "no-such-user-nodicorn"/ : /--user: switching to no-such-user-nodicorn needs root/);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
});
