// Behind a proxy: --forwarded-allow-ips with X-Forwarded-For / X-Forwarded-Proto / Forwarded, and
// --proxy-protocol (v1 and v2) with --proxy-allow-from. The test client is 127.0.0.1. gunicorn's
// corpus cases that need these options run in corpus-gunicorn.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { APPS } from './lib/paths.mjs';
import { serverFor } from './lib/server.mjs';
import { ConnectionClosedError, RawClient } from './lib/raw-client.mjs';
import { buildRequest, request } from './lib/http.mjs';
import { sleep } from './lib/wait.mjs';

async function echo(port, opts) {
  const res = await request(port, opts);
  assert.equal(res.get('x-wsgi-validate'), undefined, `wsgiref.validate failed: ${res.text()}`);
  assert.equal(res.status, 200, res.text());
  return res.json();
}

/**
 * Sends bytes whole or one byte per write. A server that rejects early closes the connection
 * while bytes are still going out: sending then stops, and the reads tell what happened.
 */
async function send(client, bytes, byteByByte) {
  try {
    if (!byteByByte) {
      await client.write(bytes);
      return;
    }
    for (let i = 0; i < bytes.length && !client.ended; i++) {
      await client.write(bytes.subarray(i, i + 1));
      await sleep(1);
    }
  } catch (err) {
    if (!['EPIPE', 'ECONNRESET', 'ERR_STREAM_DESTROYED'].includes(err.code)) throw err;
  }
}

/** Sends bytes and reads one response; null if the connection closed without one. */
async function exchange(port, bytes, { byteByByte = false } = {}) {
  const client = await RawClient.connect(port);
  try {
    await send(client, bytes, byteByByte);
    try {
      return await client.readResponse();
    } catch (err) {
      if (err instanceof ConnectionClosedError && err.received.length === 0) return null;
      throw err;
    }
  } finally {
    client.close();
  }
}

const SIG = Buffer.from('\r\n\r\n\0\r\nQUIT\n', 'latin1');
function v2(command, famTrans, body) {
  const fixed = Buffer.from([0x20 | command, famTrans, 0, 0]);
  fixed.writeUInt16BE(body.length, 2);
  return Buffer.concat([SIG, fixed, body]);
}
const V2_TCP4 = v2(1, 0x11, Buffer.from([198, 51, 100, 7, 10, 0, 0, 5, 0x1f, 0x90, 0x01, 0xbb])); // 198.51.100.7:8080 → 10.0.0.5:443
const V2_TCP6 = v2(1, 0x21, Buffer.concat([
  Buffer.from('20010db8000000000000000000000001', 'hex'),
  Buffer.from('20010db8000000000000000000000002', 'hex'),
  Buffer.from([0xd4, 0x31, 0x00, 0x50]),
])); // [2001:db8::1]:54321 → [2001:db8::2]:80
const V2_LOCAL = v2(0, 0x00, Buffer.alloc(0));

test('--forwarder-headers (SCRIPT_NAME,PATH_INFO by default): a trusted front end mounts the app', async (t) => {
  const server = await serverFor(t, ['echo_app:app', '--chdir', APPS]);
  const env = async (path, headers) => (await echo(server.port, { path, headers })).environ;

  let e = await env('/app/items/7?x=1', [['SCRIPT_NAME', '/app']]);
  assert.deepEqual([e.SCRIPT_NAME, e.PATH_INFO, e.QUERY_STRING], ['/app', '/items/7', 'x=1'], 'the mount comes off the front of the path');
  e = await env('/items/7', [['SCRIPT_NAME', '/app/']]);
  assert.deepEqual([e.SCRIPT_NAME, e.PATH_INFO], ['/app', '/items/7'], 'a proxy that stripped the prefix already: the path stays whole');
  e = await env('/whatever', [['PATH_INFO', '/from-proxy']]);
  assert.equal(e.PATH_INFO, '/from-proxy');
  e = await env('/app', [['SCRIPT_NAME', '/app'], ['REMOTE_USER', 'ann']]);
  assert.deepEqual([e.SCRIPT_NAME, e.PATH_INFO], ['/app', '']);
  assert.equal(e.REMOTE_USER, undefined, 'REMOTE_USER is not listed by default');
  assert.equal(Object.keys(e).filter((k) => k.includes('SCRIPT') && k !== 'SCRIPT_NAME').length, 0, 'no HTTP_ key for a name with an underscore');

  await t.test('listed explicitly: REMOTE_USER too', async (t) => {
    const listed = await serverFor(t, ['echo_app:app', '--chdir', APPS, '--forwarder-headers', 'REMOTE_USER,SCRIPT_NAME']);
    const doc = await echo(listed.port, { path: '/p', headers: [['REMOTE_USER', 'ann'], ['PATH_INFO', '/ignored']] });
    assert.deepEqual([doc.environ.REMOTE_USER, doc.environ.PATH_INFO], ['ann', '/p'], 'PATH_INFO is no longer listed');
  });

  await t.test('from a peer not in --forwarded-allow-ips the headers are dropped', async (t) => {
    const untrusting = await serverFor(t, ['echo_app:app', '--chdir', APPS, '--forwarded-allow-ips', '10.9.9.9']);
    const doc = await echo(untrusting.port, { path: '/app/items', headers: [['SCRIPT_NAME', '/app'], ['PATH_INFO', '/x']] });
    assert.deepEqual([doc.environ.SCRIPT_NAME, doc.environ.PATH_INFO], ['', '/app/items']);
  });
});

test('trusted peer (127.0.0.1 by default): forwarded headers set REMOTE_ADDR and wsgi.url_scheme', async (t) => {
  const server = await serverFor(t, ['echo_app:app', '--chdir', APPS, '--access-logfile', '-', '--log-level', 'debug',
    '--forwarded-allow-ips', '127.0.0.1,::1,10.0.0.0/8']);

  await t.test('X-Forwarded-For, multi-hop: walked from the right past trusted proxies', async () => {
    const doc = await echo(server.port, { path: '/xff', headers: [['X-Forwarded-For', '6.6.6.6, 203.0.113.7, 10.1.2.3']] });
    assert.equal(doc.environ.REMOTE_ADDR, '203.0.113.7', 'the first untrusted hop, not the client-written 6.6.6.6');
    assert.equal(doc.environ.REMOTE_PORT, '', 'the client port is unknown, not the proxy\u2019s');
    assert.equal(doc.environ.HTTP_X_FORWARDED_FOR, '6.6.6.6, 203.0.113.7, 10.1.2.3', 'the header stays for ProxyFix & co');
    assert.equal(doc.wsgi.url_scheme, 'http');
    const line = await server.waitStdout(/"GET \/xff HTTP\/1\.1"/, 5_000);
    assert.match(line.input, /^203\.0\.113\.7 - - /, '%(h)s is the resulting REMOTE_ADDR');
  });

  await t.test('X-Forwarded-For with a port and IPv6 forms', async () => {
    let doc = await echo(server.port, { path: '/', headers: [['X-Forwarded-For', '[2001:db8::7]:4711']] });
    assert.deepEqual([doc.environ.REMOTE_ADDR, doc.environ.REMOTE_PORT], ['2001:db8::7', '4711']);
    doc = await echo(server.port, { path: '/', headers: [['X-Forwarded-For', '2001:db8::8']] });
    assert.equal(doc.environ.REMOTE_ADDR, '2001:db8::8');
    doc = await echo(server.port, { path: '/', headers: [['X-Forwarded-For', 'unknown']] });
    assert.equal(doc.environ.REMOTE_ADDR, '127.0.0.1', 'no address: the peer stays');
  });

  await t.test('X-Forwarded-Proto: https and the other secure scheme headers', async () => {
    for (const [name, value, scheme] of [
      ['X-Forwarded-Proto', 'https', 'https'],
      ['X-Forwarded-Proto', 'http', 'http'],
      ['X-Forwarded-Ssl', 'on', 'https'],
      ['X-Forwarded-Protocol', 'ssl', 'https'],
      ['X-Forwarded-Ssl', 'off', 'http'],
    ]) {
      const doc = await echo(server.port, { path: '/', headers: [[name, value]] });
      assert.equal(doc.wsgi.url_scheme, scheme, `${name}: ${value}`);
      assert.equal(doc.environ[`HTTP_${name.toUpperCase().replace(/-/g, '_')}`], value);
    }
  });

  await t.test('Forwarded (RFC 7239): quoted IPv6 with port, several elements, proto', async () => {
    let doc = await echo(server.port, { path: '/', headers: [['Forwarded', 'for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https, for=10.9.9.9']] });
    assert.deepEqual([doc.environ.REMOTE_ADDR, doc.environ.REMOTE_PORT, doc.wsgi.url_scheme], ['2001:db8:cafe::17', '4711', 'https']);
    doc = await echo(server.port, { path: '/', headers: [['Forwarded', 'for="192.0.2.43:47011";proto=http']] });
    assert.deepEqual([doc.environ.REMOTE_ADDR, doc.environ.REMOTE_PORT, doc.wsgi.url_scheme], ['192.0.2.43', '47011', 'http']);
    assert.equal(doc.environ.HTTP_FORWARDED, 'for="192.0.2.43:47011";proto=http');
    // With X-Forwarded-For present, Forwarded is not read.
    doc = await echo(server.port, { path: '/', headers: [['Forwarded', 'for=6.6.6.6'], ['X-Forwarded-For', '203.0.113.9']] });
    assert.equal(doc.environ.REMOTE_ADDR, '203.0.113.9');
  });

  await t.test('contradictory scheme headers: 400, logged, and the server keeps serving', async () => {
    const res = await exchange(server.port, buildRequest({ path: '/contra', headers: [['X-Forwarded-Proto', 'https'], ['X-Forwarded-Ssl', 'off']] }));
    assert.equal(res?.status, 400);
    await server.waitStderr(/\[DEBUG\] 400 for 127\.0\.0\.1: Contradictory scheme headers/, 5_000);
    const again = await exchange(server.port, buildRequest({ path: '/contra', headers: [['X-Forwarded-Proto', 'http'], ['Forwarded', 'proto=https']] }));
    assert.equal(again?.status, 400);
    assert.equal((await echo(server.port, { path: '/after' })).environ.PATH_INFO, '/after');
  });
});

test('untrusted peer (--forwarded-allow-ips without 127.0.0.1): forwarded headers change nothing', async (t) => {
  const server = await serverFor(t, ['echo_app:app', '--chdir', APPS, '--access-logfile', '-', '--forwarded-allow-ips', '10.0.0.0/8,192.0.2.1']);
  const client = await RawClient.connect(server.port);
  try {
    await client.write(buildRequest({
      path: '/untrusted',
      headers: [['X-Forwarded-For', '203.0.113.7'], ['X-Forwarded-Proto', 'https'], ['Forwarded', 'for=198.51.100.1;proto=https']],
    }));
    const doc = (await client.readResponse()).json();
    assert.equal(doc.environ.REMOTE_ADDR, '127.0.0.1');
    assert.equal(doc.environ.REMOTE_PORT, String(client.socket.localPort));
    assert.equal(doc.wsgi.url_scheme, 'http');
    assert.equal(doc.environ.HTTP_X_FORWARDED_FOR, '203.0.113.7');
  } finally {
    client.close();
  }
  const line = await server.waitStdout(/"GET \/untrusted HTTP\/1\.1"/, 5_000);
  assert.match(line.input, /^127\.0\.0\.1 - - /);
  // Not read, so not contradictory either.
  const res = await exchange(server.port, buildRequest({ headers: [['X-Forwarded-Proto', 'https'], ['X-Forwarded-Ssl', 'off']] }));
  assert.equal(res?.status, 200);
});

test('--proxy-protocol: v1 and v2 headers give REMOTE_ADDR, whole and byte by byte', async (t) => {
  const server = await serverFor(t, ['echo_app:app', '--chdir', APPS, '--proxy-protocol', '--access-logfile', '-', '--log-level', 'debug']);
  const http = (target, headers = []) => buildRequest({ path: target, headers });
  const cases = [
    ['v1 TCP4', Buffer.from('PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n'), { REMOTE_ADDR: '192.168.0.1', REMOTE_PORT: '56324', PROXY_PROTOCOL: 'TCP4', PROXY_ADDR: '192.168.0.11', PROXY_PORT: '443' }],
    ['v1 TCP6', Buffer.from('PROXY TCP6 2001:db8::5 2001:db8::6 4242 8443\r\n'), { REMOTE_ADDR: '2001:db8::5', REMOTE_PORT: '4242', PROXY_PROTOCOL: 'TCP6', PROXY_ADDR: '2001:db8::6', PROXY_PORT: '8443' }],
    ['v1 UNKNOWN', Buffer.from('PROXY UNKNOWN\r\n'), { REMOTE_ADDR: '127.0.0.1', PROXY_PROTOCOL: undefined }],
    ['v2 TCP4', V2_TCP4, { REMOTE_ADDR: '198.51.100.7', REMOTE_PORT: '8080', PROXY_PROTOCOL: 'TCP4', PROXY_ADDR: '10.0.0.5', PROXY_PORT: '443' }],
    ['v2 TCP6', V2_TCP6, { REMOTE_ADDR: '2001:db8::1', REMOTE_PORT: '54321', PROXY_PROTOCOL: 'TCP6', PROXY_ADDR: '2001:db8::2', PROXY_PORT: '80' }],
    ['v2 LOCAL', V2_LOCAL, { REMOTE_ADDR: '127.0.0.1', PROXY_PROTOCOL: undefined }],
  ];
  for (const byteByByte of [false, true]) {
    for (const [name, header, expected] of cases) {
      const target = `/${name.replace(/ /g, '-')}/${byteByByte ? 'bytes' : 'whole'}`;
      const res = await exchange(server.port, Buffer.concat([header, http(target)]), { byteByByte });
      assert.equal(res?.status, 200, `${name} ${target}: ${res?.text()}`);
      const env = res.json().environ;
      for (const [key, value] of Object.entries(expected)) assert.equal(env[key], value, `${name} ${target}: ${key}`);
    }
  }
  const line = await server.waitStdout(/"GET \/v2-TCP6\/bytes HTTP\/1\.1"/, 5_000);
  assert.match(line.input, /^2001:db8::1 - - /, 'the access log shows the PROXY client');

  await t.test('the header holds for every request on the connection; the client\u2019s own X-Forwarded-For is not believed', async () => {
    const client = await RawClient.connect(server.port);
    try {
      await client.write(Buffer.concat([V2_TCP4, http('/first'), http('/second', [['X-Forwarded-For', '6.6.6.6'], ['X-Forwarded-Proto', 'https']])]));
      const first = (await client.readResponse()).json();
      const second = (await client.readResponse()).json();
      assert.deepEqual([first.environ.PATH_INFO, first.environ.REMOTE_ADDR], ['/first', '198.51.100.7']);
      assert.deepEqual([second.environ.PATH_INFO, second.environ.REMOTE_ADDR, second.wsgi.url_scheme], ['/second', '198.51.100.7', 'http']);
    } finally {
      client.close();
    }
  });

  await t.test('no header: served as it is (gunicorn valid/pp_03)', async () => {
    const doc = await echo(server.port, { path: '/no-header' });
    assert.equal(doc.environ.REMOTE_ADDR, '127.0.0.1');
    assert.equal(doc.environ.PROXY_PROTOCOL, undefined);
  });

  await t.test('a malformed header closes the connection, logged at debug with the reason', async () => {
    for (const [bad, reason] of [
      ['PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n', /v1 header: bad port/],
      ['PROXY TCP9 1.2.3.4 5.6.7.8 1 2\r\n', /v1 header: unknown protocol "TCP9"/],
      [`PROXY UNKNOWN ${'x'.repeat(100)}\r\n`, /no CRLF within 107 bytes/],
    ]) {
      for (const byteByByte of [false, true]) {
        assert.equal(await exchange(server.port, Buffer.from(bad, 'latin1'), { byteByByte }), null, bad);
      }
      await server.waitStderr(new RegExp(`\\[DEBUG\\] PROXY protocol: closed connection from 127\\.0\\.0\\.1:\\d+: .*${reason.source}`), 5_000);
    }
    const badV2 = Buffer.from(V2_TCP4);
    badV2[12] = 0x31; // version 3
    assert.equal(await exchange(server.port, badV2), null);
    await server.waitStderr(/PROXY protocol: closed connection from 127\.0\.0\.1:\d+: v2 header: version 3/, 5_000);
    assert.equal((await echo(server.port, { path: '/still-serving' })).environ.PATH_INFO, '/still-serving');
  });
});

test('--proxy-allow-from: a PROXY header from another peer closes the connection', async (t) => {
  const server = await serverFor(t, ['echo_app:app', '--chdir', APPS, '--proxy-protocol', '--proxy-allow-from', '10.0.0.0/8,192.0.2.1', '--log-level', 'debug']);
  for (const header of [Buffer.from('PROXY TCP4 203.0.113.7 10.0.0.5 5555 443\r\n'), V2_TCP4]) {
    for (const byteByByte of [false, true]) {
      assert.equal(await exchange(server.port, Buffer.concat([header, buildRequest({})]), { byteByByte }), null);
    }
  }
  await server.waitStderr(/PROXY protocol: closed connection from 127\.0\.0\.1:\d+: PROXY v1 header from a peer not in --proxy-allow-from/, 5_000);
  await server.waitStderr(/PROXY protocol: closed connection from 127\.0\.0\.1:\d+: PROXY v2 header from a peer not in --proxy-allow-from/, 5_000);
  // Without a header the same peer is served, as itself.
  assert.equal((await echo(server.port, { path: '/plain' })).environ.REMOTE_ADDR, '127.0.0.1');
});

test('UNIX-socket peers are trusted, as in gunicorn: forwarded headers and PROXY headers from them count', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'nodicorn-proxy-'));
  const sock = path.join(dir, 'app.sock');
  // Also on TCP (the test helper waits for that listener): there 127.0.0.1 is on neither list.
  const server = await serverFor(t, ['echo_app:app', '--chdir', APPS, '--bind', `unix:${sock}`, '--proxy-protocol',
    '--proxy-allow-from', '10.0.0.1', '--forwarded-allow-ips', '10.0.0.1']);
  const overUnix = async (bytes) => {
    const socket = net.connect(sock);
    const chunks = [];
    socket.on('data', (d) => chunks.push(d));
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    socket.write(bytes);
    await new Promise((resolve) => socket.once('close', resolve));
    const text = Buffer.concat(chunks).toString('latin1');
    return JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));
  };
  const forwarded = [['X-Forwarded-For', '203.0.113.7'], ['X-Forwarded-Proto', 'https'], ['Connection', 'close']];
  const plain = await overUnix(buildRequest({ path: '/unix', headers: forwarded }));
  assert.deepEqual([plain.environ.REMOTE_ADDR, plain.environ.REMOTE_PORT, plain.wsgi.url_scheme], ['203.0.113.7', '', 'https']);
  // The PROXY-named client (not on --forwarded-allow-ips) is the peer now: its own headers are not believed.
  const proxied = await overUnix(Buffer.concat([V2_TCP4, buildRequest({ path: '/unix', headers: forwarded })]));
  assert.deepEqual([proxied.environ.REMOTE_ADDR, proxied.environ.REMOTE_PORT, proxied.wsgi.url_scheme], ['198.51.100.7', '8080', 'http']);
  // Over TCP from 127.0.0.1 neither is believed.
  assert.equal(await exchange(server.port, Buffer.concat([V2_TCP4, buildRequest({})])), null);
  const tcp = await echo(server.port, { path: '/tcp', headers: forwarded.slice(0, 2) });
  assert.deepEqual([tcp.environ.REMOTE_ADDR, tcp.wsgi.url_scheme], ['127.0.0.1', 'http']);
});
