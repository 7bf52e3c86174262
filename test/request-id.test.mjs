// --request-id-header: the id is taken from the request when sane, made otherwise, and the app
// (environ), the response (header) and the access log (JSON and text) all see the same one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { APPS } from './lib/paths.mjs';
import { runCli, serverFor } from './lib/server.mjs';
import { request } from './lib/http.mjs';
import { waitUntil } from './lib/wait.mjs';
import { h2connect, h2request, makeCerts, tlsArgs } from './tls-helpers.mjs';

/** A new id: 12 base64url characters of the process's prefix, "-", a base-36 counter. */
const MADE = /^[A-Za-z0-9_-]{12}-[0-9a-z]+$/;

function logFile() {
  return path.join(mkdtempSync(path.join(tmpdir(), 'nodicorn-reqid-')), 'access.log');
}

function lines(file) {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l !== '') : [];
}

async function linesAfter(file, count) {
  await waitUntil(() => lines(file).length >= count, 10_000);
  return lines(file);
}

test('off by default: no environ key, no response header', async (t) => {
  const server = await serverFor(t, ['request_id_app:app', '--chdir', APPS]);
  const res = await request(server.port, { path: '/' });
  assert.equal(res.text(), '-');
  assert.equal(res.get('x-request-id'), undefined);
  const sent = await request(server.port, { path: '/', headers: [['X-Request-ID', 'a"b']] });
  assert.equal(sent.text(), 'a"b', 'the header reaches the app untouched, as under gunicorn');
});

test('kept when sane, made when absent, replaced when hostile; environ, response and JSON log agree', async (t) => {
  const file = logFile();
  const server = await serverFor(t, ['request_id_app:app', '--chdir', APPS, '--request-id-header', 'X-Request-ID',
    '--log-format', 'json', '--access-logfile', file]);
  const cases = [
    { sent: ['f47ac10b-58cc-4372-a567-0e02b2c3d479'], kept: true },
    { sent: ['Root=1-67891233-abcdef012345678912345678;Parent=463ac35c9f6413ad'], kept: true },
    { sent: [], kept: false },
    { sent: [], kept: false },
    { sent: ['quote"d'], kept: false },
    { sent: ['back\\slash'], kept: false },
    { sent: ['\\n{"forged":1}'], kept: false },
    { sent: ['with space'], kept: false },
    { sent: ['x'.repeat(201)], kept: false },
    { sent: ['one', 'two'], kept: false },
    { sent: [Buffer.from('caf\u00e9', 'utf8').toString('latin1')], kept: false },
    { sent: ['x'.repeat(8000)], kept: false },
  ];
  const seen = [];
  for (const c of cases) {
    const res = await request(server.port, { path: '/id', headers: c.sent.map((v) => ['X-Request-ID', v]) });
    assert.equal(res.status, 200);
    const inApp = res.text();
    const echoed = res.get('x-request-id');
    assert.equal(echoed, inApp, `the response carries what the app saw (${JSON.stringify(c.sent).slice(0, 60)})`);
    if (c.kept) assert.equal(inApp, c.sent[0]);
    else assert.match(inApp, MADE);
    seen.push(inApp);
  }
  assert.equal(new Set(seen).size, seen.length, 'every made id is new');
  const logged = (await linesAfter(file, cases.length)).map((l) => JSON.parse(l));
  assert.deepEqual(logged.map((l) => l['http.request.id']), seen);
  for (const l of logged) assert.ok(!('forged' in l));
});

test('the id is echoed on a 500 the server writes, and the app\u2019s own header wins', async (t) => {
  const server = await serverFor(t, ['request_id_app:app', '--chdir', APPS, '--request-id-header', 'X-Request-ID']);
  const failed = await request(server.port, { path: '/?fail', headers: [['X-Request-ID', 'req-500']] });
  assert.equal(failed.status, 500);
  assert.equal(failed.get('x-request-id'), 'req-500');
  const own = await request(server.port, { path: '/?own=app-chosen', headers: [['X-Request-ID', 'from-client']] });
  assert.equal(own.text(), 'from-client');
  assert.deepEqual(own.headers.filter(([k]) => k.toLowerCase() === 'x-request-id').map(([, v]) => v), ['app-chosen']);
});

test('another header name; the text format\u2019s {Name}i atom shows the id the app saw', async (t) => {
  const file = logFile();
  const server = await serverFor(t, ['echo_app:app', '--chdir', APPS, '--request-id-header', 'X-Correlation-ID',
    '--access-logfile', file, '--access-logformat', '%(s)s %({x-correlation-id}i)s']);
  const res = await request(server.port, { path: '/', headers: [['X-Correlation-ID', 'bad"id']] });
  const id = res.json().environ.HTTP_X_CORRELATION_ID;
  assert.match(id, MADE);
  assert.equal(res.get('x-correlation-id'), id);
  const [line] = await linesAfter(file, 1);
  assert.equal(line, `200 ${id}`);
});

test('a header name WSGI cannot carry is refused with one line', async () => {
  const r = await runCli(['request_id_app:app', '--chdir', APPS, '--request-id-header', 'X_Request_ID']);
  assert.equal(r.code, 2);
  const errorLines = r.stderr.trim().split('\n');
  assert.equal(errorLines.length, 1, r.stderr);
  assert.match(errorLines[0], /--request-id-header/);
});

test('over HTTP/2: kept, made and echoed; the JSON line says https and protocol 2', async (t) => {
  const certs = makeCerts();
  t.after(() => certs.cleanup());
  const file = logFile();
  const server = await serverFor(t, ['request_id_app:app', '--chdir', APPS, ...tlsArgs(certs), '--http-protocols', 'h2,h1',
    '--request-id-header', 'X-Request-ID', '--log-format', 'json', '--access-logfile', file]);
  const session = await h2connect(t, server.port, certs);
  const kept = await h2request(session, { path: '/', headers: { 'x-request-id': 'h2-id-1', 'user-agent': 'h2-client' } });
  assert.equal(kept.status, 200);
  assert.equal(kept.text(), 'h2-id-1');
  assert.equal(kept.headers['x-request-id'], 'h2-id-1');
  const made = await h2request(session, { path: '/', headers: { 'x-request-id': 'no"good' } });
  assert.match(made.text(), MADE);
  assert.equal(made.headers['x-request-id'], made.text());
  const logged = (await linesAfter(file, 2)).map((l) => JSON.parse(l));
  assert.deepEqual(logged.map((l) => l['http.request.id']), ['h2-id-1', made.text()]);
  assert.equal(logged[0]['network.protocol.version'], '2');
  assert.equal(logged[0]['url.scheme'], 'https');
  assert.equal(logged[0]['user_agent.original'], 'h2-client');
  assert.equal(logged[0]['server.address'], 'localhost');
  assert.equal(logged[0]['server.port'], server.port);
});
