/**
 * The lean engine against node:http, byte for byte: the same raw requests to both servers, each
 * answered by the same handler through the calls the sink makes (writeHead with a reason and a
 * flat field list, write, end), and the raw bytes that come back compared, Date aside. Then the
 * same requests over TLS to the lean engine's TLS server.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as connectTls } from 'node:tls';
import { once } from 'node:events';
import { llhttp, type Llhttp } from '../node-internals';
import { LeanServer, LeanTlsServer } from './server';

/** Answers by path: /STATUS/MODE, MODE one of the response shapes below. */
function handler(req: IncomingMessage, res: ServerResponse): void {
  const [, statusText = '200', mode = 'length'] = (req.url ?? '/').split('/');
  const status = Number(statusText);
  const body = Buffer.from(`body of ${req.method} ${req.url}`);
  const send = (): void => {
    switch (mode) {
      case 'length':
        res.writeHead(status, 'Fine', ['Content-Type', 'text/plain', 'Content-Length', String(body.length)]);
        res.write(body);
        res.end();
        break;
      case 'unframed': // no length: chunked on HTTP/1.1, to the close on HTTP/1.0
        // A chunk per write, in separate ticks: from Node 24, node:http joins the chunked writes
        // of one tick into one chunk, where the lean engine sends each write as its chunk (chunk
        // boundaries mean nothing, RFC 9112 §7.1, and nothing is held back that way).
        res.writeHead(status, 'Fine', ['Content-Type', 'text/plain']);
        res.write(body.subarray(0, 5));
        setImmediate(() => {
          res.write(body.subarray(5));
          res.end();
        });
        break;
      case 'close': // the app asks to close
        res.writeHead(status, 'Fine', ['Connection', 'close', 'Content-Length', String(body.length)]);
        res.end(body.toString('latin1'), 'latin1');
        break;
      case 'chunked': // the app frames the body itself
        res.writeHead(status, 'Fine', ['Transfer-Encoding', 'chunked']);
        res.write(body);
        res.end();
        break;
      case 'empty':
        res.writeHead(status, 'Fine', ['X-Empty', 'yes']);
        res.end();
        break;
      case 'late': // answered after a later pipelined request's answer was ready
        setTimeout(() => {
          res.writeHead(status, 'Fine', ['Content-Length', String(body.length)]);
          res.end(body);
        }, 30);
        return;
    }
  };
  // Bodies are read to the end first, as nodicorn's receiver does.
  req.on('data', () => {});
  if (req.complete) send();
  else req.once('end', send);
}

const settings = { keepAliveTimeout: 3000, headersTimeout: 10_000, maxHeaderSize: 16384, httpAllowHalfOpen: true };

async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

/** Sends `raw`, half-closes, and returns everything the server sent until it closed. */
async function exchange(open: () => Socket, raw: string): Promise<string> {
  const socket = open();
  socket.end(raw);
  const chunks: Buffer[] = [];
  for await (const chunk of socket) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('latin1').replace(/Date: [^\r]*\r\n/g, 'Date: -\r\n');
}

const CASES: Record<string, string> = {
  'GET, length': 'GET /200/length HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET, unframed': 'GET /200/unframed HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET, app closes': 'GET /200/close HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET, app chunks': 'GET /200/chunked HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET, empty': 'GET /200/empty HTTP/1.1\r\nHost: x\r\n\r\n',
  'HEAD, length': 'HEAD /200/length HTTP/1.1\r\nHost: x\r\n\r\n',
  'HEAD, unframed': 'HEAD /200/unframed HTTP/1.1\r\nHost: x\r\n\r\n',
  '204 and 304': 'GET /204/empty HTTP/1.1\r\nHost: x\r\n\r\nGET /304/unframed HTTP/1.1\r\nHost: x\r\n\r\n',
  '204 with chunked framing from the app': 'GET /204/chunked HTTP/1.1\r\nHost: x\r\n\r\n',
  'HTTP/1.0': 'GET /200/length HTTP/1.0\r\n\r\n',
  'HTTP/1.0, unframed': 'GET /200/unframed HTTP/1.0\r\n\r\n',
  'HTTP/1.0 keep-alive': 'GET /200/length HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /200/unframed HTTP/1.0\r\nConnection: keep-alive\r\n\r\n',
  'client asks to close': 'GET /200/length HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /200/length HTTP/1.1\r\nHost: x\r\n\r\n',
  'pipelined, answered out of order': 'GET /200/late HTTP/1.1\r\nHost: x\r\n\r\nGET /201/length HTTP/1.1\r\nHost: x\r\n\r\nGET /202/unframed HTTP/1.1\r\nHost: x\r\n\r\n',
  'POST with a body, then GET': 'POST /200/length HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /200/empty HTTP/1.1\r\nHost: x\r\n\r\n',
  'chunked POST with a trailer': 'POST /200/length HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n',
  'Expect: something else': 'GET /200/length HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\n\r\n',
  'Expect: 100-continue': 'POST /200/length HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nok',
  'a parse error after a good request': 'GET /200/length HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nBad Header: x\r\n\r\n',
  'an Upgrade nobody takes': 'GET /200/length HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
  'an RTSP method': 'DESCRIBE /200/length RTSP/1.0\r\nCSeq: 1\r\n\r\n',
  'QUERY': 'QUERY /200/length HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nq',
};

/** The binding of every Node major in node-internals' CHECKED_MAJORS loads. On another major this
 * fails on purpose: check that line's binding before adding it there (test/node-versions.sh). */
function binding(): Llhttp {
  const found = llhttp();
  assert.ok(found, `the llhttp binding did not load on Node ${process.versions.node}`);
  return found;
}

/** Every case to node:http over TCP and to `lean` at once; each answer must be node's, byte for byte. */
async function compare(lean: Server & { closeAllConnections(): void }, open: (port: number) => Socket): Promise<void> {
  const node = Object.assign(createServer(handler), settings);
  lean.on('request', handler);
  Object.assign(lean, settings);
  const nodePort = await listen(node);
  const leanPort = await listen(lean);
  try {
    for (const [name, raw] of Object.entries(CASES)) {
      const [want, got] = await Promise.all([exchange(() => connect(nodePort, '127.0.0.1'), raw), exchange(() => open(leanPort), raw)]);
      assert.ok(want.length > 0, `${name}: node:http answered`);
      assert.equal(got, want, name);
    }
  } finally {
    node.close();
    lean.close();
    node.closeAllConnections();
    lean.closeAllConnections();
  }
}

test('the lean engine answers every case with the bytes node:http sends', async () => {
  await compare(new LeanServer(binding()), (port) => connect(port, '127.0.0.1'));
});

// The reference stays node:http over TCP: node:https itself, given two pipelined requests and
// the client's half-close in one go ('204 and 304', 'HTTP/1.0 keep-alive'), answers the first
// only. It sees the end of the TLS stream before it parses the second request.
test('over TLS, the lean engine answers every case with the bytes node:http sends over TCP', async (t) => {
  // A throwaway self-signed certificate, made by the openssl CLI as the black-box TLS tests do.
  const dir = mkdtempSync(join(tmpdir(), 'nodicorn-parity-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', 'key.pem', '-out', 'cert.pem', '-days', '2', '-subj', '/CN=localhost'], { cwd: dir, encoding: 'utf8' });
  assert.equal(made.status, 0, `openssl: ${made.stderr}`);
  const options = { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
  const open = (port: number): Socket => connectTls({ port, host: '127.0.0.1', rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
  await compare(new LeanTlsServer(binding(), options), open);
});
