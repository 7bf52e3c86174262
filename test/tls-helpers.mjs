// Helpers for the TLS and HTTP/2 tests: HTTPS and HTTP/2 clients, and certificates made at run
// time with the openssl CLI in a temp dir: a CA, a server certificate for localhost / 127.0.0.1 /
// ::1 signed by it, a client certificate signed by it, and a self-signed client certificate that
// no --ca-certs trusts.
//
// Not a test file itself (run.sh runs test/*.test.mjs only).
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { performance } from 'node:perf_hooks';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RawClient } from './lib/raw-client.mjs';

const OPENSSL = process.env.OPENSSL ?? 'openssl';

function openssl(dir, args) {
  const r = spawnSync(OPENSSL, args, { cwd: dir, encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed (${r.status ?? r.error}):\n${r.stderr}`);
}

/** A P-256 key and a CSR for `subject`. */
function keyAndRequest(dir, name, subject) {
  openssl(dir, ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject]);
}

function signWithCa(dir, name, extensions) {
  writeFileSync(path.join(dir, `${name}.ext`), extensions.join('\n') + '\n');
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
    '-days', '2', '-out', `${name}.pem`, '-extfile', `${name}.ext`]);
}

/**
 * Makes the certificates; returns { dir, paths: {ca, serverCert, serverKey, combined, clientCert,
 * clientKey, rogueCert, rogueKey}, ca, client: {cert, key}, rogue: {cert, key}, cleanup() }.
 */
export function makeCerts() {
  const dir = mkdtempSync(path.join(tmpdir(), 'nodicorn-certs-'));
  openssl(dir, ['req', '-x509', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=nodicorn test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  keyAndRequest(dir, 'server', '/CN=localhost');
  signWithCa(dir, 'server', ['subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1', 'extendedKeyUsage=serverAuth']);
  keyAndRequest(dir, 'client', '/CN=test client/O=nodicorn');
  signWithCa(dir, 'client', ['extendedKeyUsage=clientAuth']);
  openssl(dir, ['req', '-x509', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', 'rogue.key', '-out', 'rogue.pem', '-days', '2', '-subj', '/CN=rogue client']);
  const p = (f) => path.join(dir, f);
  writeFileSync(p('combined.pem'), Buffer.concat([readFileSync(p('server.pem')), readFileSync(p('server.key'))]));
  return {
    dir,
    paths: {
      ca: p('ca.pem'), serverCert: p('server.pem'), serverKey: p('server.key'), combined: p('combined.pem'),
      clientCert: p('client.pem'), clientKey: p('client.key'), rogueCert: p('rogue.pem'), rogueKey: p('rogue.key'),
    },
    ca: readFileSync(p('ca.pem')),
    client: { cert: readFileSync(p('client.pem')), key: readFileSync(p('client.key')) },
    rogue: { cert: readFileSync(p('rogue.pem')), key: readFileSync(p('rogue.key')) },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * A RawClient on a TLS connection to 127.0.0.1:`port`, trusting `ca`. `clear` (a PROXY header)
 * goes on the TCP connection before the handshake, as a load balancer sends it.
 */
export async function tlsRawClient(port, ca, clear = null) {
  const tcp = net.connect({ port, host: '127.0.0.1' });
  await once(tcp, 'connect');
  if (clear !== null && clear.length > 0) tcp.write(clear);
  const socket = tls.connect({ socket: tcp, ca, servername: 'localhost', ALPNProtocols: ['http/1.1'] });
  try {
    await once(socket, 'secureConnect');
  } catch (err) {
    tcp.destroy();
    throw err;
  }
  socket.setNoDelay(true);
  return new RawClient(socket);
}

/** The server flags for these certificates. */
export function tlsArgs(certs) {
  return ['--certfile', certs.paths.serverCert, '--keyfile', certs.paths.serverKey];
}

/**
 * One HTTPS request (HTTP/1.1) with node:https on a fresh connection. Options: method, path, body,
 * headers, ca, cert, key, alpn (ALPN protocols to offer), timeout. Resolves { status, headers,
 * body (Buffer), json(), alpn, authorized }; rejects on a TLS or connection error.
 */
export function httpsRequest(port, { method = 'GET', path: target = '/', body = null, headers = {}, ca, cert, key, alpn, timeout = 15_000, host = '127.0.0.1' } = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host, port, method, path: target, headers, ca, cert, key, agent: false,
      servername: 'localhost', ALPNProtocols: alpn,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const buf = Buffer.concat(chunks);
        resolve({
          status: res.statusCode, headers: res.headers, body: buf, text: () => buf.toString('utf8'),
          json: () => JSON.parse(buf.toString('utf8')), alpn: res.socket?.alpnProtocol ?? null, httpVersion: res.httpVersion,
        });
      });
      res.on('error', reject);
    });
    req.setTimeout(timeout, () => req.destroy(new Error(`HTTPS ${method} ${target} timed out after ${timeout} ms`)));
    req.on('error', reject);
    req.end(body ?? undefined);
  });
}

/** An HTTP/2 session to localhost:port trusting `certs`' CA; closed when the test ends. */
export async function h2connect(t, port, certs, options = {}) {
  const session = http2.connect(`https://localhost:${port}`, { ca: certs.ca, ...options });
  session.on('error', () => {}); // a test that expects a failure looks at the request instead
  t?.after(() => session.destroy());
  await new Promise((resolve, reject) => {
    session.once('connect', resolve);
    session.once('error', reject);
    session.once('close', () => reject(new Error('HTTP/2 session closed before it connected')));
  });
  return session;
}

/**
 * One request on an HTTP/2 session. Options: method, path (null: no :path, as for CONNECT),
 * headers, body, keepOpen (no body yet: onStream writes and ends it), timeout, onStream(stream)
 * (gets the ClientHttp2Stream at once). Resolves
 * { status, headers, body, text(), json(), chunkTimes, endAt }; rejects on a stream error.
 */
export function h2request(session, { method = 'GET', path: target = '/', headers = {}, body = null, keepOpen = false, timeout = 20_000, onStream } = {}) {
  return new Promise((resolve, reject) => {
    const pseudo = target === null ? { ':method': method } : { ':method': method, ':path': target };
    const stream = session.request({ ...pseudo, ...headers }, { endStream: body === null && !keepOpen });
    const chunks = [];
    const chunkTimes = [];
    let head = null;
    const timer = setTimeout(() => { stream.close(http2.constants.NGHTTP2_CANCEL); reject(new Error(`HTTP/2 ${method} ${target} timed out`)); }, timeout);
    stream.on('response', (h) => { head = h; });
    stream.on('data', (c) => { chunks.push(c); chunkTimes.push(performance.now()); });
    stream.on('end', () => {
      clearTimeout(timer);
      const buf = Buffer.concat(chunks);
      resolve({
        status: head?.[':status'], headers: head ?? {}, body: buf, text: () => buf.toString('utf8'),
        json: () => JSON.parse(buf.toString('utf8')), chunkTimes, endAt: performance.now(),
      });
    });
    stream.on('error', (err) => { clearTimeout(timer); reject(err); });
    onStream?.(stream);
    if (body !== null) stream.end(body);
  });
}
