// One request, one response: request bytes built from a description, and the exchanges most tests
// make on a fresh connection.
import http from 'node:http';
import net from 'node:net';
import { RawClient } from './raw-client.mjs';

/** Bytes of a request: buildRequest({method, path, version, headers: [[k, v]] | {k: v}, body}). */
export function buildRequest({ method = 'GET', path: target = '/', version = '1.1', headers = [], body = null, host = 'localhost' } = {}) {
  const list = Array.isArray(headers) ? headers.slice() : Object.entries(headers);
  if (host !== null && !list.some(([k]) => k.toLowerCase() === 'host')) list.unshift(['Host', host]);
  const bodyBuf = body === null ? null : (typeof body === 'string' ? Buffer.from(body, 'utf8') : body);
  if (bodyBuf && !list.some(([k]) => /^(content-length|transfer-encoding)$/i.test(k))) list.push(['Content-Length', String(bodyBuf.length)]);
  const head = `${method} ${target} HTTP/${version}\r\n${list.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
  const headBuf = Buffer.from(head, 'latin1');
  return bodyBuf ? Buffer.concat([headBuf, bodyBuf]) : headBuf;
}

/** One request on a fresh connection; resolves the response (the connection is then closed). */
export async function request(port, opts = {}, readOpts = {}) {
  const client = await RawClient.connect(port);
  try {
    await client.write(opts.raw ?? buildRequest(opts));
    return await client.readResponse({ head: (opts.method ?? 'GET') === 'HEAD', ...readOpts });
  } finally {
    client.close();
  }
}

/**
 * Raw bytes on a fresh connection: the first response, and for an error status whether the
 * server then closed the connection (as it must after rejecting a request).
 */
export async function rawExchange(port, raw) {
  const client = await RawClient.connect(port);
  try {
    await client.write(raw);
    const res = await client.readResponse();
    res.closed = res.status >= 400 || /^close$/i.test(res.get('connection') ?? '') ? await client.waitClosed(2_000) : false;
    return res;
  } finally {
    client.close();
  }
}

/** GET path, expect a 200, return the body as text. */
export async function getText(port, target, headers = {}) {
  const res = await request(port, { path: target, headers });
  if (res.status !== 200) throw new Error(`GET ${target}: ${res.status} ${res.text().slice(0, 500)}`);
  return res.text();
}

/** GET over a unix socket with node:http (a new connection): { status, body, pid (X-Worker-Pid) }. */
export function unixGet(socketPath, target) {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath, path: target, agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d) => { body += d; }).on('end', () => resolve({ status: res.statusCode, body, pid: Number(res.headers['x-worker-pid']) }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

/** Whether 127.0.0.1:port takes a connection: 'refused', 'open', 'timeout' or another error code. */
export function probe(port) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    const timer = setTimeout(() => { s.destroy(); resolve('timeout'); }, 2_000);
    s.once('connect', () => { clearTimeout(timer); s.destroy(); resolve('open'); });
    s.once('error', (err) => { clearTimeout(timer); resolve(err.code === 'ECONNREFUSED' ? 'refused' : err.code); });
  });
}
