import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccessLog, DEFAULT_ACCESS_LOG_FORMAT, compileAccessFormat, type AccessEntry } from './access';

process.env.TZ = 'UTC';

const START = Date.UTC(2026, 10, 25, 4, 34, 10, 250);

function entry(overrides: Partial<AccessEntry> = {}): AccessEntry {
  return {
    remoteAddr: '192.0.2.7',
    method: 'GET',
    target: '/search?q=wsgi&page=2',
    path: '/search',
    query: 'q=wsgi&page=2',
    protocol: 'HTTP/1.1',
    status: 200,
    bytes: 1234,
    requestHeaders: [
      'Host', 'example.com',
      'User-Agent', 'curl/8.0',
      'Referer', 'https://example.com/',
      'Authorization', `Basic ${Buffer.from('alice:s3cret:x').toString('base64')}`,
      'X-Request-Id', 'abc-123',
      'x-multi', 'one',
      'X-Multi', 'two',
    ],
    responseHeaders: [
      ['Content-Type', 'text/html'],
      ['Set-Cookie', 'a=1'],
      ['set-cookie', 'b=2'],
    ],
    start: START,
    durationMicros: 2_345_678,
    workerPid: 4321,
    ...overrides,
  };
}

const one = (atom: string, e = entry()): string => compileAccessFormat(`%(${atom})s`)(e);

test('the default format gives gunicorn\u2019s line', () => {
  assert.equal(
    compileAccessFormat(DEFAULT_ACCESS_LOG_FORMAT)(entry()),
    '192.0.2.7 - alice [25/Nov/2026:04:34:10 +0000] "GET /search?q=wsgi&page=2 HTTP/1.1" 200 1234 "https://example.com/" "curl/8.0"',
  );
});

test('every atom', () => {
  const expected: Record<string, string> = {
    h: '192.0.2.7',
    l: '-',
    u: 'alice',
    t: '[25/Nov/2026:04:34:10 +0000]',
    r: 'GET /search?q=wsgi&page=2 HTTP/1.1',
    m: 'GET',
    U: '/search',
    q: 'q=wsgi&page=2',
    H: 'HTTP/1.1',
    s: '200',
    B: '1234',
    b: '1234',
    f: 'https://example.com/',
    a: 'curl/8.0',
    T: '2',
    D: '2345678',
    M: '2345',
    L: '2.345678',
    p: '<4321>',
    '{x-request-id}i': 'abc-123',
    '{X-REQUEST-ID}i': 'abc-123',
    '{x-multi}i': 'one, two',
    '{missing}i': '-',
    '{content-type}o': 'text/html',
    '{Set-Cookie}o': 'a=1, b=2',
    '{missing}o': '-',
    '{NODICORN_TEST_VAR}e': 'from-env',
    '{nodicorn_test_var}e': 'from-env',
    '{NODICORN_UNSET_VAR}e': '-',
    zz: '-',
    '': '-',
    '{broken': '-',
  };
  process.env.NODICORN_TEST_VAR = 'from-env';
  for (const [atom, want] of Object.entries(expected)) assert.equal(one(atom), want, atom);
});

test('atoms with nothing to say print "-"; b is "-" for no bytes, B is 0', () => {
  const bare = entry({ requestHeaders: [], responseHeaders: [], bytes: 0, remoteAddr: '', query: '', durationMicros: 42 });
  assert.equal(one('u', bare), '-');
  assert.equal(one('f', bare), '-');
  assert.equal(one('a', bare), '-');
  assert.equal(one('h', bare), '-');
  assert.equal(one('b', bare), '-');
  assert.equal(one('B', bare), '0');
  assert.equal(one('q', bare), '');
  assert.equal(one('L', bare), '0.000042');
  assert.equal(one('T', bare), '0');
  assert.equal(one('u', entry({ requestHeaders: ['Authorization', 'Bearer token'] })), '-');
  assert.equal(one('u', entry({ requestHeaders: ['authorization', `basic ${Buffer.from('bob').toString('base64')}`] })), 'bob');
});

test('Python %-format details: %%, padding, precision, stray % kept', () => {
  const f = compileAccessFormat('100%% %(s)5s|%(m)-5s|%(a).4s|%(D)d % %(x');
  assert.equal(f(entry()), '100%   200|GET  |curl|2345678 % %(x');
  assert.equal(compileAccessFormat('constant')(entry()), 'constant');
});

test('the CLF time uses the local offset', () => {
  process.env.TZ = 'Asia/Kolkata';
  try {
    assert.equal(one('t', entry({ start: Date.UTC(2026, 0, 2, 3, 4, 5) })), '[02/Jan/2026:08:34:05 +0530]');
  } finally {
    process.env.TZ = 'UTC';
  }
  assert.equal(one('t', entry({ start: Date.UTC(2027, 5, 6, 7, 8, 9) })), '[06/Jun/2027:07:08:09 +0000]');
});

test('AccessLog batches lines per tick to a file and flushes on close', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'nodicorn-access-')), 'access.log');
  const log = new AccessLog({ file, format: '%(m)s %(U)s %(s)s' });
  log.log(entry());
  log.log(entry({ method: 'POST', status: 201 }));
  await log.flush();
  assert.equal(readFileSync(file, 'utf8'), 'GET /search 200\nPOST /search 201\n');
  log.log(entry({ status: 404 }));
  await log.close();
  assert.equal(readFileSync(file, 'utf8'), 'GET /search 200\nPOST /search 201\nGET /search 404\n');
});

test('AccessLog lines pending at process.exit() still reach the file and stdout', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'nodicorn-access-')), 'access.log');
  const e = JSON.stringify(entry());
  const script = `
    const { AccessLog } = require(${JSON.stringify(join(__dirname, 'access.js'))});
    const toFile = new AccessLog({ file: ${JSON.stringify(file)}, format: '%(s)s' });
    const toStdout = new AccessLog({ file: '-', format: '%(m)s', json: true });
    for (let i = 0; i < 500; i++) { toFile.log(${e}); toStdout.log(${e}); }
    process.exit(0);
  `;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0);
  assert.equal(readFileSync(file, 'utf8'), '200\n'.repeat(500));
  const lines = r.stdout.split('\n');
  assert.equal(lines.length, 501);
  assert.equal(lines.pop(), '');
  for (const line of lines) assert.equal(JSON.parse(line)['http.request.method'], 'GET');
});
