import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ConfigError } from '../errors';
import { Syslog, formatSyslog, parseFacility, parseSyslogAddress } from './syslog';

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 300 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(check(), 'timed out');
}

test('--log-syslog-to forms, as gunicorn reads them', () => {
  assert.deepEqual(parseSyslogAddress('udp://localhost:514'), { kind: 'udp', host: 'localhost', port: 514 });
  assert.deepEqual(parseSyslogAddress('udp://'), { kind: 'udp', host: 'localhost', port: 514 });
  assert.deepEqual(parseSyslogAddress('tcp://Log.Example:6514'), { kind: 'tcp', host: 'log.example', port: 6514 });
  assert.deepEqual(parseSyslogAddress('udp://[::1]:5140'), { kind: 'udp', host: '::1', port: 5140 });
  assert.deepEqual(parseSyslogAddress('udp://10.0.0.1'), { kind: 'udp', host: '10.0.0.1', port: 514 });
  assert.deepEqual(parseSyslogAddress('unix:///run/syslog.sock'), { kind: 'unix', path: '/run/syslog.sock' });
  assert.deepEqual(parseSyslogAddress('unix:///run/syslog.sock#stream'), { kind: 'unix', path: '/run/syslog.sock' });
  assert.throws(() => parseSyslogAddress('unix:///dev/log#dgram'), (e: Error) => e instanceof ConfigError && /--log-syslog-to: .*datagram.*udp:\/\//.test(e.message));
  assert.throws(() => parseSyslogAddress('syslog.example:514'), /--log-syslog-to: expected udp:/);
  assert.throws(() => parseSyslogAddress('udp://host:x'), /--log-syslog-to/);
});

test('facilities by name, case-insensitive; an unknown one is one line', () => {
  assert.equal(parseFacility('user'), 1);
  assert.equal(parseFacility('LOCAL7'), 23);
  assert.equal(parseFacility('daemon'), 3);
  assert.throws(() => parseFacility('nope'), /--log-syslog-facility: expected one of kern, user/);
});

test('the message is Python SysLogHandler\u2019s: <PRI>program: [pid] message\\0', () => {
  assert.equal(formatSyslog(1, 'error', 'gunicorn.app.error', 42, 'boom'), '<11>gunicorn.app.error: [42] boom\0');
  assert.equal(formatSyslog(16, 'info', 'gunicorn.app.access', 7, 'GET /'), '<134>gunicorn.app.access: [7] GET /\0');
  assert.equal(formatSyslog(1, 'critical', 'p', 1, 'x'), '<10>p: [1] x\0');
  assert.equal(formatSyslog(1, 'warning', 'p', 1, 'x'), '<12>p: [1] x\0');
  assert.equal(formatSyslog(1, 'debug', 'p', 1, 'x'), '<15>p: [1] x\0');
});

test('UDP: one datagram per message; the prefix\u2019s ":" become "."', async (t) => {
  const socket = createSocket('udp4');
  const got: string[] = [];
  socket.on('message', (m) => got.push(m.toString()));
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  t.after(() => socket.close());
  const syslog = await Syslog.open({
    address: { kind: 'udp', host: '127.0.0.1', port: (socket.address() as AddressInfo).port },
    facility: 1,
    prefix: 'myapp:app',
  });
  syslog.error('warning', 'first', 10);
  syslog.access('GET / 200', 11);
  await until(() => got.length === 2);
  syslog.close();
  syslog.error('info', 'after close: dropped, not thrown', 10);
  syslog.close();
  assert.deepEqual(got, ['<12>gunicorn.myapp.app.error: [10] first\0', '<14>gunicorn.myapp.app.access: [11] GET / 200\0']);
});

test('TCP and unix stream sockets carry NUL-terminated messages; a dead address is one line', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nodicorn-syslog-'));
  for (const where of ['tcp', 'unix'] as const) {
    let received = '';
    const server = createServer((c) => c.on('data', (d) => (received += d.toString())));
    const path = join(dir, 'stream.sock');
    if (where === 'tcp') server.listen(0, '127.0.0.1');
    else server.listen(path);
    await once(server, 'listening');
    t.after(() => server.close());
    const address = where === 'tcp' ? ({ kind: 'tcp', host: '127.0.0.1', port: (server.address() as AddressInfo).port } as const) : ({ kind: 'unix', path } as const);
    const syslog = await Syslog.open({ address, facility: 3, prefix: 'p' });
    syslog.error('error', 'one', 5);
    syslog.error('info', 'two\nlines', 5);
    await until(() => received.split('\0').length === 3);
    assert.equal(received, '<27>gunicorn.p.error: [5] one\0<30>gunicorn.p.error: [5] two\nlines\0');
    syslog.close();
  }
  await assert.rejects(Syslog.open({ address: { kind: 'unix', path: join(dir, 'none.sock') }, facility: 1, prefix: 'p' }), /--log-syslog-to: cannot connect to unix:\/\/.*none\.sock \(ENOENT\)/);
});

test('a unix datagram socket (like /dev/log) is refused with the reason', { skip: process.platform === 'win32' }, async (t) => {
  const path = join(mkdtempSync(join(tmpdir(), 'nodicorn-syslog-')), 'dgram.sock');
  const py = spawn('python3', ['-c', 'import socket,sys,time\ns=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\nprint("ok", flush=True)\ntime.sleep(60)', path], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => py.kill());
  const [line] = (await once(createInterface({ input: py.stdout }), 'line')) as [string];
  assert.equal(line, 'ok');
  await assert.rejects(
    Syslog.open({ address: { kind: 'unix', path }, facility: 1, prefix: 'p' }),
    (e: Error) => e instanceof ConfigError && /is a unix datagram socket, which Node cannot send to/.test(e.message),
  );
});
