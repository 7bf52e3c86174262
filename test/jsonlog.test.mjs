// --log-format json: each access line is one JSON object with OpenTelemetry's HTTP names, read
// back with JSON.parse whatever the client put in its headers; error-log lines stay JSON too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { APPS } from './lib/paths.mjs';
import { serverFor } from './lib/server.mjs';
import { request } from './lib/http.mjs';
import { waitUntil } from './lib/wait.mjs';

/** The file's lines, each checked to be valid UTF-8 and one JSON object. */
function jsonLines(file) {
  const bytes = existsSync(file) ? readFileSync(file) : Buffer.alloc(0);
  const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  if (text === '') return [];
  assert.ok(text.endsWith('\n'), 'the file ends with a whole line');
  return text.slice(0, -1).split('\n').map((line) => {
    assert.ok(!/[\r\u0085\u2028\u2029]/.test(line), `no other line break in ${JSON.stringify(line)}`);
    const value = JSON.parse(line);
    assert.equal(typeof value, 'object');
    return value;
  });
}

async function accessLines(file, count) {
  await waitUntil(() => jsonLines(file).length >= count, 10_000);
  return jsonLines(file);
}

function logFile() {
  return path.join(mkdtempSync(path.join(tmpdir(), 'nodicorn-jsonlog-')), 'access.log');
}

test('an access line: OTel names, exact values', async (t) => {
  const file = logFile();
  const server = await serverFor(t, ['hello_app:app', '--chdir', APPS, '--log-format', 'json', '--access-logfile', file]);
  const res = await request(server.port, {
    method: 'POST', path: '/greet?x=1&y=%20', body: 'twelve bytes', headers: [['User-Agent', 'nodicorn-test/1.0'], ['Host', 'app.example:8443']],
  });
  assert.equal(res.status, 200);
  const [line] = await accessLines(file, 1);
  const duration = line['http.server.request.duration'];
  assert.ok(typeof duration === 'number' && duration > 0 && duration < 30, String(duration));
  assert.ok(Math.abs(Date.parse(line.time) - Date.now()) < 60_000, line.time);
  assert.ok(Number.isInteger(line['client.port']) && line['client.port'] > 0);
  assert.ok(Number.isInteger(line['process.pid']) && line['process.pid'] !== server.pid, 'the worker\u2019s pid');
  const { time, 'http.server.request.duration': _d, 'client.port': _p, 'process.pid': _pid, ...rest } = line;
  assert.deepEqual(rest, {
    'http.request.method': 'POST',
    'url.path': '/greet',
    'url.query': 'x=1&y=%20',
    'url.scheme': 'http',
    'http.response.status_code': 200,
    'client.address': '127.0.0.1',
    'server.address': 'app.example',
    'server.port': 8443,
    'network.protocol.version': '1.1',
    'user_agent.original': 'nodicorn-test/1.0',
    'http.request.body.size': 12,
    'http.response.body.size': 5,
  });
});

test('hostile header values cannot forge a field or break a line', async (t) => {
  const file = logFile();
  const server = await serverFor(t, ['hello_app:app', '--chdir', APPS, '--log-format', 'json', '--access-logfile', file,
    '--access-logformat', '%(h)s %({X-Evil}i)s %({Referer}i)s']);
  // What a client can put in a header value (llhttp refuses DEL and other controls but tab):
  // quotes, backslashes, JSON, tabs, bytes that
  // are not UTF-8, NEL and U+2028 as UTF-8, and 8 KB of it.
  const hostile = [
    '"}, {"forged":1, "x":"',
    'back\\slash\\"quote',
    '\\n{"forged":1}',
    'tab\there',
    Buffer.from([0x63, 0xff, 0xfe, 0xc3, 0x28, 0x80]).toString('latin1'),
    Buffer.from('nel\u0085 ls\u2028 ps\u2029 caf\u00e9', 'utf8').toString('latin1'),
    '"'.repeat(8000),
    '\\'.repeat(8000),
  ];
  for (const value of hostile) {
    const res = await request(server.port, { path: '/h', headers: [['User-Agent', value], ['X-Evil', value], ['Referer', value]] });
    assert.equal(res.status, 200);
  }
  const lines = await accessLines(file, hostile.length);
  assert.equal(lines.length, hostile.length, 'one line per request');
  const decode = (v) => Buffer.from(v, 'latin1').toString('utf8');
  lines.forEach((line, i) => {
    const expected = decode(hostile[i]);
    assert.equal(line['user_agent.original'], expected, `request ${i}`);
    assert.deepEqual(line['http.request.header.x-evil'], [expected]);
    assert.deepEqual(line['http.request.header.referer'], [expected]);
    assert.ok(!('forged' in line));
    assert.equal(line['http.response.status_code'], 200);
    assert.equal(line['url.path'], '/h');
  });
  assert.equal(lines[4]['user_agent.original'], 'c\ufffd\ufffd\ufffd(\ufffd', 'bytes that are not UTF-8 become U+FFFD');
  assert.equal(lines[5]['user_agent.original'], 'nel\u0085 ls\u2028 ps\u2029 caf\u00e9');
});

test('text format unchanged without --log-format json', async (t) => {
  const file = logFile();
  const server = await serverFor(t, ['hello_app:app', '--chdir', APPS, '--access-logfile', file]);
  await request(server.port, { path: '/plain', headers: [['User-Agent', 'a"b']] });
  await waitUntil(() => existsSync(file) && readFileSync(file, 'utf8').includes('/plain'), 10_000);
  assert.match(readFileSync(file, 'utf8'), /^127\.0\.0\.1 - - \[[^\]]+\] "GET \/plain HTTP\/1\.1" 200 5 "-" "a"b"\n$/);
});

test('error-log lines stay one JSON object each, with what a worker prints (--capture-output)', async (t) => {
  const server = await serverFor(t, ['printing_app:app', '--chdir', APPS, '--log-format', 'json', '--log-level', 'debug', '--capture-output']);
  const tag = encodeURIComponent('"}{"forged":1}\u2028\u0085\u0001\\');
  const res = await request(server.port, { path: `/?tag=${tag}` });
  assert.equal(res.status, 200);
  await server.waitStderr(/PRINT-WSGI-ERRORS/, 10_000);
  const lines = server.stderrLines.filter((l) => l.trim() !== '');
  assert.ok(lines.length > 3);
  for (const line of lines) {
    assert.ok(!/[\u0085\u2028\u2029\u0000-\u001f]/.test(line), `escaped: ${JSON.stringify(line)}`);
    const value = JSON.parse(line);
    assert.ok(!('forged' in value));
    assert.equal(typeof value.message, 'string');
  }
  const printed = lines.map((l) => JSON.parse(l)).find((v) => v.message.startsWith('PRINT-STDOUT'));
  assert.equal(printed.message, 'PRINT-STDOUT "}{"forged":1}\u2028\u0085\u0001\\');
});
