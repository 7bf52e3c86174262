/**
 * The PROXY intake in front of each kind of server it may feed: node:http, node:https and
 * node:http2 (the header precedes the TLS handshake), with the client address found again from
 * the socket each request carries. Real sockets on 127.0.0.1; the TLS certificate is made at run
 * time with the openssl command.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect as connectHttp2, createSecureServer, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import { connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as connectTls } from 'node:tls';
import type { Logger } from '../../log/logger';
import { AddressList } from './address-list';
import { originOf } from './origin';
import { createProxyIntake } from './proxy-intake';

const V1 = 'PROXY TCP4 203.0.113.7 10.0.0.5 5555 443\r\n';
const V2_TCP6 = Buffer.concat([
  Buffer.from('\r\n\r\n\0\r\nQUIT\n', 'latin1'),
  Buffer.from([0x21, 0x21, 0x00, 0x24]),
  Buffer.from('20010db8000000000000000000000001', 'hex'),
  Buffer.from('20010db8000000000000000000000002', 'hex'),
  Buffer.from([0xd4, 0x31, 0x00, 0x50]),
]);

function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const add = (m: string): void => void lines.push(m);
  return { lines, debug: add, info: add, warning: add, error: add, critical: add, isEnabled: () => true, flush: async () => {}, close: async () => {}, reopen: () => null, passLines: () => {} };
}

let certs: { key: Buffer; cert: Buffer } | undefined;
function certificate(): { key: Buffer; cert: Buffer } {
  if (certs) return certs;
  const dir = mkdtempSync(join(tmpdir(), 'nodicorn-proxy-tls-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
  certs = { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
  return certs;
}

/** Answers with what originOf() finds from the request's socket. */
function describeOrigin(req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): void {
  const origin = originOf(req.socket as Socket);
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ url: req.url, origin }));
}

async function listenBehindIntake(target: Server, allow = ['127.0.0.1'], headerTimeoutMs = 5_000) {
  const log = memoryLogger();
  const intake = createProxyIntake(target, { allow: new AddressList(allow), headerTimeoutMs, log });
  await new Promise<void>((resolve) => intake.listen(0, '127.0.0.1', resolve));
  const port = (intake.address() as { port: number }).port;
  return {
    port,
    log,
    close: () => {
      intake.close();
      target.close();
      (target as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
    },
  };
}

async function rawConnect(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  return socket;
}

async function writeByteByByte(socket: Socket, data: Buffer | string): Promise<void> {
  const buf = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
  for (let i = 0; i < buf.length; i++) {
    socket.write(buf.subarray(i, i + 1));
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

function readAll(socket: Socket | import('node:tls').TLSSocket): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (out += d));
    socket.on('error', () => {});
    socket.on('close', () => resolve(out));
  });
}

function bodyOf(response: string): { url: string; origin: { local: boolean; address: string; proxy: { sourceAddress: string; sourcePort: number } | null } } {
  return JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4)) as ReturnType<typeof bodyOf>;
}

test('node:http behind the intake: the header split byte by byte, the request in the same packet as its end', { timeout: 20_000 }, async (t) => {
  const server = await listenBehindIntake(createHttpServer(describeOrigin));
  t.after(server.close);
  const socket = await rawConnect(server.port);
  const response = readAll(socket);
  await writeByteByByte(socket, V1.slice(0, -1));
  socket.write(`\nGET /one HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`);
  const body = bodyOf(await response);
  assert.equal(body.url, '/one');
  assert.equal(body.origin.proxy?.sourceAddress, '203.0.113.7');
  assert.equal(body.origin.proxy?.sourcePort, 5555);
  assert.equal(body.origin.address, '127.0.0.1');
});

test('node:https behind the intake: the PROXY header comes before the TLS handshake', { timeout: 20_000 }, async (t) => {
  const server = await listenBehindIntake(createHttpsServer(certificate(), describeOrigin));
  t.after(server.close);
  for (const split of [false, true]) {
    const raw = await rawConnect(server.port);
    if (split) await writeByteByByte(raw, V1);
    else raw.write(V1);
    const secure = connectTls({ socket: raw, rejectUnauthorized: false });
    const response = readAll(secure);
    secure.write('GET /tls HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    const body = bodyOf(await response);
    assert.equal(body.url, '/tls');
    // req.socket is the TLSSocket; the record is on the raw socket it wraps.
    assert.equal(body.origin.proxy?.sourceAddress, '203.0.113.7', `split ${split}`);
  }
});

test('node:http2 behind the intake: req.socket is a Proxy around the TLSSocket', { timeout: 20_000 }, async (t) => {
  const server = await listenBehindIntake(createSecureServer(certificate(), describeOrigin));
  t.after(server.close);
  const raw = await rawConnect(server.port);
  await writeByteByByte(raw, V2_TCP6);
  const session = connectHttp2('https://localhost', {
    createConnection: () => connectTls({ socket: raw, rejectUnauthorized: false, ALPNProtocols: ['h2'] }),
  });
  t.after(() => session.close());
  const stream = session.request({ ':path': '/h2' });
  let text = '';
  stream.setEncoding('utf8');
  stream.on('data', (d: string) => (text += d));
  await new Promise((resolve) => stream.on('end', resolve));
  const body = JSON.parse(text) as ReturnType<typeof bodyOf>;
  assert.equal(body.url, '/h2');
  assert.equal(body.origin.proxy?.sourceAddress, '2001:db8::1');
  assert.equal(body.origin.proxy?.sourcePort, 54321);
});

test('without a header the connection is served as it is; the origin is the peer', { timeout: 20_000 }, async (t) => {
  const server = await listenBehindIntake(createHttpServer(describeOrigin));
  t.after(server.close);
  const socket = await rawConnect(server.port);
  const response = readAll(socket);
  await writeByteByByte(socket, 'GET /plain HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
  const body = bodyOf(await response);
  assert.equal(body.url, '/plain');
  assert.equal(body.origin.proxy, null);
  assert.equal(body.origin.address, '127.0.0.1');
  assert.equal(body.origin.local, false);
});

test('a header from a peer not allowed, a malformed one, or one too slow: closed, and logged why', { timeout: 20_000 }, async (t) => {
  const strangers = await listenBehindIntake(createHttpServer(describeOrigin), ['10.0.0.0/8']);
  t.after(strangers.close);
  const a = await rawConnect(strangers.port);
  const aOut = readAll(a);
  a.write('PROXY ');
  assert.equal(await aOut, ''); // closed once the signature is seen, without waiting for the rest
  assert.ok(strangers.log.lines.some((l) => /PROXY v1 header from a peer not in --proxy-allow-from/.test(l)), strangers.log.lines.join('\n'));

  const server = await listenBehindIntake(createHttpServer(describeOrigin), ['127.0.0.1'], 300);
  t.after(server.close);
  const b = await rawConnect(server.port);
  const bOut = readAll(b);
  b.write('PROXY TCP4 not-an-ip 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n');
  assert.equal(await bOut, '');
  assert.ok(server.log.lines.some((l) => /bad TCP4 address/.test(l)), server.log.lines.join('\n'));

  const c = await rawConnect(server.port);
  const cOut = readAll(c);
  c.write('PROXY TCP4 1.2.3.4');
  assert.equal(await cOut, '');
  assert.ok(server.log.lines.some((l) => /no complete PROXY header within 300 ms/.test(l)), server.log.lines.join('\n'));
});

test('node:http still tracks the connections the intake hands it (idle ones close on shutdown)', { timeout: 20_000 }, async (t) => {
  const http = createHttpServer(describeOrigin);
  http.keepAliveTimeout = 0; // no idle timeout: only closeIdleConnections() can close it
  const server = await listenBehindIntake(http);
  t.after(server.close);
  const socket = await rawConnect(server.port);
  t.after(() => socket.destroy());
  const output = readAll(socket);
  socket.write(`${V1}GET /keep HTTP/1.1\r\nHost: a\r\n\r\n`);
  await new Promise((resolve) => socket.once('data', resolve));
  http.closeIdleConnections();
  const outcome = await Promise.race([output.then(() => 'closed'), new Promise((resolve) => setTimeout(resolve, 3_000, 'still open'))]);
  assert.equal(outcome, 'closed');
  assert.match(await output, /"url":"\/keep"/);
});
