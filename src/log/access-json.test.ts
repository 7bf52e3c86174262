import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileAccessFormat, DEFAULT_ACCESS_LOG_FORMAT, type AccessEntry } from './access';
import { lineSafe } from './json-line';

const START = Date.UTC(2026, 10, 25, 4, 34, 10, 250);

function entry(overrides: Partial<AccessEntry> = {}): AccessEntry {
  return {
    remoteAddr: '192.0.2.7',
    method: 'POST',
    target: '/search?q=wsgi',
    path: '/search',
    query: 'q=wsgi',
    protocol: 'HTTP/1.1',
    status: 201,
    bytes: 1234,
    requestHeaders: ['Host', 'example.com:8080', 'User-Agent', 'curl/8.0', 'X-Request-ID', 'from-client', 'Content-Length', '12'],
    responseHeaders: [['Content-Type', 'text/html'], ['Set-Cookie', 'a=1'], ['set-cookie', 'b=2']],
    start: START,
    durationMicros: 2_345_678,
    workerPid: 4321,
    scheme: 'https',
    remotePort: '51234',
    environ: [
      ['SERVER_NAME', '127.0.0.1'],
      ['SERVER_PORT', '8000'],
      ['HTTP_HOST', 'example.com:8080'],
      ['CONTENT_LENGTH', '12'],
    ],
    ...overrides,
  };
}

const json = (e: AccessEntry, format = DEFAULT_ACCESS_LOG_FORMAT, idHeader?: string): Record<string, unknown> => {
  const line = compileAccessFormat(format, true, idHeader)(e);
  assert.ok(!/[\n\r\u0085\u2028\u2029]/.test(line), line);
  return JSON.parse(line) as Record<string, unknown>;
};

test('the JSON line has OpenTelemetry\u2019s HTTP server names, numbers as numbers', () => {
  assert.deepEqual(json(entry({ requestId: 'id-1' })), {
    time: '2026-11-25T04:34:10.250Z',
    'http.request.method': 'POST',
    'url.path': '/search',
    'url.query': 'q=wsgi',
    'url.scheme': 'https',
    'http.response.status_code': 201,
    'client.address': '192.0.2.7',
    'client.port': 51234,
    'server.address': 'example.com',
    'server.port': 8080,
    'network.protocol.version': '1.1',
    'user_agent.original': 'curl/8.0',
    'http.server.request.duration': 2.345678,
    'http.request.body.size': 12,
    'http.response.body.size': 1234,
    'process.pid': 4321,
    'http.request.id': 'id-1',
  });
});

test('unknown values are left out; without Host the listener is the server', () => {
  const line = json(
    entry({ query: '', remoteAddr: '-', remotePort: '', requestHeaders: [], protocol: 'HTTP/2.0', environ: [['SERVER_NAME', '/tmp/s.sock'], ['SERVER_PORT', '80']] }),
  );
  for (const key of ['url.query', 'client.address', 'client.port', 'user_agent.original', 'http.request.body.size', 'http.request.id']) assert.ok(!(key in line), key);
  assert.equal(line['server.address'], '/tmp/s.sock');
  assert.equal(line['server.port'], 80);
  assert.equal(line['network.protocol.version'], '2');
});

test('a Host of [::1] without a port takes SERVER_PORT', () => {
  const line = json(entry({ environ: [['HTTP_HOST', '[::1]'], ['SERVER_PORT', '8000']] }));
  assert.equal(line['server.address'], '[::1]');
  assert.equal(line['server.port'], 8000);
});

test('hostile values stay inside their field: quotes, newlines, controls, C1, U+2028, bad UTF-8', () => {
  // Header values arrive as latin-1, one char per byte: NEL, U+2028 and U+2029 sent as UTF-8.
  const breaks = '\u0085\u2028\u2029';
  const evil = 'a"b\\c\n{"forged":1}\r\u0000\u0001\u001b[31m\u007f' + breaks;
  const onWire = evil.slice(0, -3) + Buffer.from(breaks, 'utf8').toString('latin1');
  const invalidUtf8 = 'caf\u00c3\u00a9 \u00ff\u00fe';
  const line = compileAccessFormat(DEFAULT_ACCESS_LOG_FORMAT, true)(
    entry({ requestHeaders: ['User-Agent', onWire], path: `/p${invalidUtf8}` }),
  );
  assert.ok(!/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(line), 'no raw control or line-break character');
  const parsed = JSON.parse(line) as Record<string, unknown>;
  assert.equal(parsed['user_agent.original'], evil);
  assert.equal(parsed['url.path'], '/pcaf\u00e9 \ufffd\ufffd');
  assert.ok(!('forged' in parsed));
});

test('{Name}i and {Name}o atoms add OTel header fields; the request id header shows the id the app saw', () => {
  const line = json(entry({ requestId: 'replaced' }), '%(h)s %({X-Request-ID}i)s %({Set-Cookie}o)s %({Missing}i)s', 'x-request-id');
  assert.deepEqual(line['http.request.header.x-request-id'], ['replaced']);
  assert.deepEqual(line['http.response.header.set-cookie'], ['a=1', 'b=2']);
  assert.ok(!('http.request.header.missing' in line));
  const text = compileAccessFormat('%({X-Request-ID}i)s', false, 'x-request-id');
  assert.equal(text(entry({ requestId: 'replaced' })), 'replaced');
  assert.equal(text(entry()), 'from-client');
});

test('lineSafe leaves ordinary JSON alone', () => {
  const text = JSON.stringify({ a: 'plain ascii and \u00e9\u4e2d' });
  assert.equal(lineSafe(text), text);
  assert.equal(lineSafe(JSON.stringify('\u2028')), '"\\u2028"');
});
