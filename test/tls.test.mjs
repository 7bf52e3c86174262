// TLS: HTTPS on every bind address with --certfile/--keyfile, mutual TLS with --ca-certs and
// --cert-reqs (gunicorn's 0/1/2), one-line config errors for bad files, and a TLS port that
// shrugs off plain HTTP. Certificates are made by the test with the openssl CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import tls from 'node:tls';
import { APPS } from './lib/paths.mjs';
import { runCli, serverFor } from './lib/server.mjs';
import { RawClient } from './lib/raw-client.mjs';
import { waitUntil } from './lib/wait.mjs';
import { httpsRequest, makeCerts, tlsArgs, tlsRawClient } from './tls-helpers.mjs';

const certs = makeCerts();
test.after(() => certs.cleanup());

/** A raw client on a TLS connection to `port` (closed when the test ends). */
async function tlsClient(t, port) {
  const client = await tlsRawClient(port, certs.ca);
  t.after(() => client.socket.destroy());
  return client;
}

/** A CLI run that must fail at startup with one `nodicorn: error:` line naming `flag`. */
async function configError(args, flag) {
  const r = await runCli(['echo_app:app', '--chdir', APPS, '--bind', '127.0.0.1:0', ...args], { timeout: 30_000 });
  assert.equal(r.code, 2, `exit code 2 for ${args.join(' ')}; stderr:\n${r.stderr}`);
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  assert.equal(lines.length, 1, `one line, got:\n${r.stderr}`);
  assert.match(lines[0], /^nodicorn: error: /);
  assert.ok(lines[0].includes(flag), `names ${flag}: ${lines[0]}`);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  return lines[0];
}

test('HTTPS with --certfile and --keyfile', async (t) => {
  const server = await serverFor(t, ['echo_app:app', '--chdir', APPS, ...tlsArgs(certs)]);

  await t.test('the Listening line says https', () => {
    assert.ok(server.stderrLines.some((l) => /Listening at: https:\/\/127\.0\.0\.1:\d+/.test(l)), server.stderrText());
  });

  await t.test('GET: wsgi.url_scheme is https, the request is HTTP/1.1', async () => {
    const res = await httpsRequest(server.port, { path: '/tls/get?a=1', ca: certs.ca });
    assert.equal(res.status, 200);
    const doc = res.json();
    assert.equal(doc.wsgi.url_scheme, 'https');
    assert.equal(doc.environ.SERVER_PROTOCOL, 'HTTP/1.1');
    assert.equal(doc.environ.PATH_INFO, '/tls/get');
    assert.equal(doc.environ.QUERY_STRING, 'a=1');
    assert.equal(doc.environ.SERVER_PORT, String(server.port));
    assert.equal(doc.environ.HTTP_HOST, `127.0.0.1:${server.port}`);
  });

  await t.test('POST: the body reaches the app', async () => {
    const body = Buffer.from('posted over TLS ✓\n'.repeat(100));
    const res = await httpsRequest(server.port, {
      method: 'POST', path: '/tls/post', body, ca: certs.ca,
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(body.length) },
    });
    assert.equal(res.status, 200);
    const doc = res.json();
    assert.equal(doc.environ.CONTENT_LENGTH, String(body.length));
    assert.ok(Buffer.from(doc.body_b64, 'base64').equals(body));
  });

  await t.test('plain HTTP sent to the TLS port: the connection ends, the server goes on', async () => {
    for (const bytes of ['GET / HTTP/1.1\r\nHost: x\r\n\r\n', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', '\x16\x03\x01\x00\x05hello']) {
      const client = await RawClient.connect(server.port);
      await client.write(bytes);
      assert.equal(await client.waitClosed(10_000), true, `closed after ${JSON.stringify(bytes)}`);
      // Whatever came back (a TLS alert, or nothing), it is no HTTP response.
      assert.doesNotMatch(client.pending().toString('latin1'), /^HTTP\/1/);
    }
    const res = await httpsRequest(server.port, { path: '/after-garbage', ca: certs.ca });
    assert.equal(res.status, 200);
    assert.equal(server.exitInfo, null);
  });

  await t.test('a client that does not trust the certificate fails its handshake; others are served', async () => {
    await assert.rejects(httpsRequest(server.port, { path: '/untrusted' }), /self[- ]signed|unable to (get|verify)/i);
    assert.equal((await httpsRequest(server.port, { path: '/trusted', ca: certs.ca })).status, 200);
  });
});

test('a certificate file holding the key too serves without --keyfile', async (t) => {
  const server = await serverFor(t, ['echo_app:app', '--chdir', APPS, '--certfile', certs.paths.combined]);
  const res = await httpsRequest(server.port, { path: '/combined', ca: certs.ca });
  assert.equal(res.status, 200);
  assert.equal(res.json().wsgi.url_scheme, 'https');
});

test('--cert-reqs 2 (from a gunicorn-style config file): only clients with a certificate from --ca-certs', async (t) => {
  const config = path.join(certs.dir, 'mtls.conf.py');
  writeFileSync(config, [
    'import ssl',
    `certfile = ${JSON.stringify(certs.paths.serverCert)}`,
    `keyfile = ${JSON.stringify(certs.paths.serverKey)}`,
    `ca_certs = ${JSON.stringify(certs.paths.ca)}`,
    'cert_reqs = ssl.CERT_REQUIRED',
    '',
  ].join('\n'));
  const server = await serverFor(t, ['echo_app:app', '--chdir', APPS, '-c', config, '--log-level', 'debug']);

  await t.test('no client certificate: refused', async () => {
    await assert.rejects(httpsRequest(server.port, { path: '/no-cert', ca: certs.ca }));
  });

  await t.test('a certificate signed by the CA: served', async () => {
    const res = await httpsRequest(server.port, { path: '/with-cert', ca: certs.ca, ...certs.client });
    assert.equal(res.status, 200);
    assert.equal(res.json().wsgi.url_scheme, 'https');
  });

  await t.test('a self-signed client certificate: refused', async () => {
    await assert.rejects(httpsRequest(server.port, { path: '/rogue', ca: certs.ca, ...certs.rogue }));
    // Refusals are the client's problem: logged at debug, and the server serves on.
    assert.equal((await httpsRequest(server.port, { path: '/again', ca: certs.ca, ...certs.client })).status, 200);
    await server.waitStderr(/DEBUG\].*TLS handshake failed/, 10_000);
  });
});

test('--cert-reqs 1: a certificate is optional, but one that is sent must verify', async (t) => {
  const server = await serverFor(t, ['echo_app:app', '--chdir', APPS, ...tlsArgs(certs), '--ca-certs', certs.paths.ca, '--cert-reqs', '1', '--log-level', 'debug']);

  await t.test('without a client certificate: served', async () => {
    assert.equal((await httpsRequest(server.port, { path: '/none', ca: certs.ca })).status, 200);
  });

  await t.test('with a certificate signed by the CA: served', async () => {
    assert.equal((await httpsRequest(server.port, { path: '/signed', ca: certs.ca, ...certs.client })).status, 200);
  });

  await t.test('with a certificate the CA did not sign: refused, and logged at debug', async () => {
    await assert.rejects(httpsRequest(server.port, { path: '/rogue', ca: certs.ca, ...certs.rogue }));
    await server.waitStderr(/DEBUG\].*client certificate refused/, 10_000);
    assert.equal((await httpsRequest(server.port, { path: '/after', ca: certs.ca })).status, 200);
  });
});

test('bad SSL settings: one error line naming the flag, exit code 2', async (t) => {
  const missing = path.join(certs.dir, 'missing.pem');
  await t.test('missing --certfile', async () => {
    const line = await configError(['--certfile', missing, '--keyfile', certs.paths.serverKey], '--certfile');
    assert.ok(line.includes(missing) && /ENOENT/.test(line), line);
  });
  await t.test('missing --keyfile', async () => {
    await configError(['--certfile', certs.paths.serverCert, '--keyfile', missing], '--keyfile');
  });
  await t.test('a --certfile that is not a certificate', async () => {
    await configError(['--certfile', certs.paths.serverKey, '--keyfile', certs.paths.serverKey], '--certfile');
  });
  await t.test('a certificate without its key and no --keyfile', async () => {
    await configError(['--certfile', certs.paths.serverCert], '--keyfile');
  });
  await t.test('a --keyfile that does not belong to the certificate', async () => {
    await configError(['--certfile', certs.paths.serverCert, '--keyfile', certs.paths.rogueKey], '--keyfile');
  });
  await t.test('a --ca-certs file without a certificate', async () => {
    await configError([...tlsArgs(certs), '--ca-certs', certs.paths.clientKey, '--cert-reqs', '2'], '--ca-certs');
  });
  await t.test('an unknown --ciphers list', async () => {
    await configError([...tlsArgs(certs), '--ciphers', 'NO-SUCH-CIPHER'], '--ciphers');
  });
  await t.test('--cert-reqs 3', async () => {
    await configError([...tlsArgs(certs), '--cert-reqs', '3'], '--cert-reqs');
  });
  await t.test('--cert-reqs or --ca-certs without --certfile', async () => {
    await configError(['--cert-reqs', '2'], '--cert-reqs');
    await configError(['--ca-certs', certs.paths.ca], '--ca-certs');
  });
  await t.test('--http-protocols h2 without TLS, and unknown protocols', async () => {
    await configError(['--http-protocols', 'h2,h1'], '--http-protocols');
    await configError([...tlsArgs(certs), '--http-protocols', 'h3'], '--http-protocols');
    await configError([...tlsArgs(certs), '--http-protocols', 'h1,h1'], '--http-protocols');
  });
});

test('HTTPS: a client that keeps up with a big answer is not taken for a slow one; a client that stops reading is', async (t) => {
  const server = await serverFor(t, ['big_download:app', '--chdir', APPS, ...tlsArgs(certs), '--log-level', 'debug']);
  const slow = /a client reads slower than its answer comes/;
  const count = () => server.stderrLines.filter((l) => slow.test(l)).length;
  // The check once ran before TLS had written what was uncorked, so every big answer over TLS
  // went the slow-client way (the backlog and its spool): about half again the CPU per download.
  for (let i = 0; i < 8; i++) {
    const res = await httpsRequest(server.port, { path: '/?mb=2', ca: certs.ca });
    assert.equal(res.status, 200);
    assert.equal(res.body.length, 2 * 1024 * 1024);
  }
  assert.ok(count() < 4, `8 downloads by a reading client, ${count()} taken for a slow client`);
  // The same answer to a client that reads nothing: the socket fills, the rest waits in Node.
  const before = count();
  const socket = tls.connect({ port: server.port, host: '127.0.0.1', ca: certs.ca, servername: 'localhost' });
  t.after(() => socket.destroy());
  await once(socket, 'secureConnect');
  socket.pause();
  socket.write('GET /?mb=64 HTTP/1.1\r\nHost: localhost\r\n\r\n');
  assert.ok(await waitUntil(() => count() > before, 15_000), 'a client that reads nothing is taken for a slow one');
});

test('HTTPS: each answer on a kept-alive connection is logged when it has gone, before the next request', async (t) => {
  // The access line is written at the response's 'finish', which over TLS comes from the last
  // write's completion: a response that never finished would log nothing until the close.
  const server = await serverFor(t, ['echo_app:app', '--chdir', APPS, ...tlsArgs(certs), '--access-logfile', '-']);
  const client = await tlsClient(t, server.port);
  for (const [i, body] of [[1, ''], [2, 'x'.repeat(200_000)]]) {
    const head = body ? `POST /logged/${i} HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${body.length}\r\n\r\n` : `GET /logged/${i} HTTP/1.1\r\nHost: localhost\r\n\r\n`;
    await client.write(head + body);
    const res = await client.readResponse();
    assert.equal(res.status, 200);
    const line = await server.waitStdout(new RegExp(`/logged/${i} HTTP/1\\.1" 200 ${res.body.length} `), 5_000);
    assert.ok(line, `request ${i} logged`);
    assert.equal(client.socket.destroyed, false, 'the connection is still open');
  }
});

test('HTTPS: --header-timeout answers 408 to a head that trickles in over TLS, and closes', async (t) => {
  const server = await serverFor(t, ['hello_app:app', '--chdir', APPS, ...tlsArgs(certs), '--header-timeout', '1']);
  const client = await tlsClient(t, server.port);
  const head = Buffer.from(`GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ${'a'.repeat(100)}\r\n\r\n`);
  const started = performance.now();
  let res = null;
  const reading = client.readResponse({ timeout: 8_000 }).then((r) => (res = r));
  // One TLS record per byte, one every 100 ms: the head would take 13 s.
  for (let i = 0; i < head.length - 1 && res === null; i++) {
    await client.write(head.subarray(i, i + 1)).catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await reading;
  assert.equal(res.status, 408);
  assert.ok(performance.now() - started >= 900, 'not before --header-timeout');
  assert.equal(await client.waitClosed(2_000), true);
  assert.equal((await httpsRequest(server.port, { path: '/after', ca: certs.ca })).status, 200);
});
