// gunicorn's request limits with its defaults, without its hidden caps: 414, 431, 413, each
// answered cleanly with the connection closed, and the server keeps serving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { APPS } from './lib/paths.mjs';
import { serverFor } from './lib/server.mjs';
import { rawExchange } from './lib/http.mjs';

const exchange = async (port, raw) => {
  const res = await rawExchange(port, raw);
  return { status: res.status, closed: res.closed, res };
};

const get = (target, headers = '') => `GET ${target} HTTP/1.1\r\nHost: a\r\n${headers}\r\n`;

test('default limits: request line 4094, 100 fields, 8190 per field, body 1 GiB', async (t) => {
  const server = await serverFor(t, ['echo_app:app', '--chdir', APPS, '--log-level', 'debug']);
  const port = server.port;
  // "GET " + target + " HTTP/1.1" = 4094 bytes exactly is accepted; one more is 414.
  const fits = '/' + 'a'.repeat(4094 - 13 - 1);
  assert.equal((await exchange(port, get(fits))).status, 200);
  const over = await exchange(port, get(fits + 'a'));
  assert.deepEqual([over.status, over.closed], [414, true]);

  const fields = (n) => Array.from({ length: n }, (_, i) => `X-F${i}: v\r\n`).join('');
  assert.equal((await exchange(port, get('/', fields(99)))).status, 200, '99 fields + Host = 100');
  const many = await exchange(port, get('/', fields(100)));
  assert.deepEqual([many.status, many.closed], [431, true]);

  // The field line counts its CRLF, as gunicorn does (corpus invalid/limit_header_default_01).
  const field = (size) => `X-Big: ${'b'.repeat(size - 9)}\r\n`;
  assert.equal((await exchange(port, get('/', field(8190)))).status, 200);
  const big = await exchange(port, get('/', field(8191)));
  assert.deepEqual([big.status, big.closed], [431, true]);

  const huge = await exchange(port, `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ${2 ** 30 + 1}\r\n\r\n`);
  assert.deepEqual([huge.status, huge.closed], [413, true], '413 from Content-Length alone, before any body');

  assert.equal((await exchange(port, get('/still'))).status, 200);
  const reasons = server.stderrLines.filter((l) => /\[DEBUG\].*(41[34]|431) for/.test(l));
  assert.ok(reasons.length >= 4, `each rejection logged at debug with its reason:\n${reasons.join('\n')}`);
});

test('0 means unlimited: a 20 KB request line and 300 fields pass', async (t) => {
  const server = await serverFor(t, ['echo_app:app', '--chdir', APPS, '--limit-request-line', '0', '--limit-request-fields', '0', '--limit-request-field-size', '0']);
  const fields = Array.from({ length: 300 }, (_, i) => `X-F${i}: v\r\n`).join('');
  const r = await exchange(server.port, get('/' + 'z'.repeat(20_000), fields));
  assert.equal(r.status, 200);
  assert.equal(r.res.json().environ.HTTP_X_F299, 'v', 'no field silently dropped');
});

test('--limit-request-body: a chunked body crossing it gets 413 and the app never sees it whole', async (t) => {
  const server = await serverFor(t, ['echo_app:app', '--chdir', APPS, '--limit-request-body', '1000']);
  const ok = await exchange(server.port, `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n${'x'.repeat(1000)}`);
  assert.equal(ok.status, 200);
  const chunk = (n) => `${n.toString(16)}\r\n${'y'.repeat(n)}\r\n`;
  const over = await exchange(server.port, `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n${chunk(600)}${chunk(600)}0\r\n\r\n`);
  assert.deepEqual([over.status, over.closed], [413, true]);
});
