// --static-map and --static-max-age: files served by Node before a request reaches a worker.
// Content and type, validators and 304, ranges, HEAD, precompressed siblings, max-age, traversal
// attempts (raw requests, so nothing normalises them on the way), misses that reach the app, a
// 20 MB file streamed without Node holding it, and the same over HTTP/2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { brotliCompressSync, gunzipSync, brotliDecompressSync, gzipSync } from 'node:zlib';
import { APPS } from './lib/paths.mjs';
import { runCli, serverFor } from './lib/server.mjs';
import { RawClient } from './lib/raw-client.mjs';
import { buildRequest, request } from './lib/http.mjs';
import { fdsInDir, rssKb } from './lib/process.mjs';
import { sleep } from './lib/wait.mjs';
import { h2connect, h2request, makeCerts, tlsArgs } from './tls-helpers.mjs';

const root = mkdtempSync(path.join(tmpdir(), 'nodicorn-static-'));
test.after(() => rmSync(root, { recursive: true, force: true }));
const pub = path.join(root, 'pub');
const outside = path.join(root, 'outside');
mkdirSync(path.join(pub, 'sub'), { recursive: true });
mkdirSync(outside);
const TEXT = 'hello from a static file\n';
writeFileSync(path.join(pub, 'hello.txt'), TEXT);
const CSS = 'body { color: red; }\n'.repeat(50);
writeFileSync(path.join(pub, 'site.css'), CSS);
writeFileSync(path.join(pub, 'site.css.gz'), gzipSync(CSS));
writeFileSync(path.join(pub, 'site.css.br'), brotliCompressSync(Buffer.from(CSS)));
writeFileSync(path.join(pub, 'sub', 'page.html'), '<p>sub</p>');
writeFileSync(path.join(pub, 'blob.unknownext'), 'x');
writeFileSync(path.join(pub, '.env'), 'SECRET=in-a-dotfile');
writeFileSync(path.join(outside, 'secret.txt'), 'TOP SECRET');
symlinkSync(path.join(outside, 'secret.txt'), path.join(pub, 'link-out.txt'));
symlinkSync(outside, path.join(pub, 'dir-out'));
symlinkSync(path.join(pub, 'hello.txt'), path.join(pub, 'link-in.txt'));
execFileSync('mkfifo', [path.join(pub, 'fifo.txt')]);
const MTIME = new Date('2024-05-01T12:00:00Z');
utimesSync(path.join(pub, 'hello.txt'), MTIME, MTIME);
const BIG_SIZE = 20 * 1024 * 1024;
const big = randomBytes(BIG_SIZE);
writeFileSync(path.join(pub, 'big.bin'), big);
const bigSha = createHash('sha256').update(big).digest('hex');

const staticArgs = ['echo_app:app', '--chdir', APPS, '--static-map', `/static=${pub}`, '--static-map', `/other/deep=${path.join(pub, 'sub')}`, '--static-max-age', '3600', '-w', '1', '--access-logfile', '-'];

/** Whether the app answered (the echo app's JSON), and the path it saw. */
function appSaw(res) {
  assert.equal(res.status, 200, `expected the app's 200, got ${res.status} ${res.text().slice(0, 200)}`);
  return res.json().environ.PATH_INFO;
}

test('--static-map over HTTP/1.1', async (t) => {
  const server = await serverFor(t, staticArgs, { waitWorkers: 1 });
  const get = (target, headers = {}, method = 'GET') => request(server.port, { method, path: target, headers });

  await t.test('a file: its content, type, validators, max-age, from the master (not a worker)', async () => {
    const res = await get('/static/hello.txt');
    assert.equal(res.status, 200);
    assert.equal(res.text(), TEXT);
    assert.equal(res.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(res.get('content-length'), String(TEXT.length));
    assert.equal(res.get('last-modified'), MTIME.toUTCString());
    assert.match(res.get('etag'), /^"[0-9a-f]+-[0-9a-f]+"$/);
    assert.equal(res.get('cache-control'), 'public, max-age=3600');
    assert.equal(res.get('accept-ranges'), 'bytes');
    assert.equal(res.get('x-content-type-options'), 'nosniff');
    await server.waitStdout(new RegExp(`"GET /static/hello.txt HTTP/1.1" 200 ${TEXT.length} `));
    assert.equal((await get('/static/sub/page.html')).get('content-type'), 'text/html; charset=utf-8');
    assert.equal((await get('/static/blob.unknownext')).get('content-type'), 'application/octet-stream');
    assert.equal((await get('/static/hello.txt?v=3')).text(), TEXT, 'a query string is not part of the file name');
    assert.equal((await get('/other/deep/page.html')).text(), '<p>sub</p>', 'the longest prefix wins, a second mount serves');
    assert.equal((await get('/static/link-in.txt')).text(), TEXT, 'a symlink inside the directory is followed');
  });

  await t.test('ETag: If-None-Match answers 304 (and * too); another tag gets the file', async () => {
    const etag = (await get('/static/hello.txt')).get('etag');
    const res = await get('/static/hello.txt', { 'If-None-Match': `"other", ${etag}` });
    assert.equal(res.status, 304);
    assert.equal(res.bodyLength ?? 0, 0);
    assert.equal(res.get('etag'), etag);
    assert.equal(res.get('cache-control'), 'public, max-age=3600');
    assert.equal((await get('/static/hello.txt', { 'If-None-Match': `W/${etag}` })).status, 304, 'weak comparison');
    assert.equal((await get('/static/hello.txt', { 'If-None-Match': '*' })).status, 304);
    const other = await get('/static/hello.txt', { 'If-None-Match': '"nope"', 'If-Modified-Since': new Date().toUTCString() });
    assert.equal(other.status, 200, 'If-None-Match decides alone when present');
    assert.equal(other.text(), TEXT);
  });

  await t.test('Last-Modified: If-Modified-Since at or after it answers 304, before it gets the file', async () => {
    assert.equal((await get('/static/hello.txt', { 'If-Modified-Since': MTIME.toUTCString() })).status, 304);
    assert.equal((await get('/static/hello.txt', { 'If-Modified-Since': new Date(MTIME.getTime() + 60_000).toUTCString() })).status, 304);
    const older = await get('/static/hello.txt', { 'If-Modified-Since': new Date(MTIME.getTime() - 1000).toUTCString() });
    assert.equal(older.status, 200);
    assert.equal(older.text(), TEXT);
    assert.equal((await get('/static/hello.txt', { 'If-Modified-Since': 'not a date' })).status, 200);
  });

  await t.test('Range: one range is a 206, past the end a 416, several get the whole file', async () => {
    const part = await get('/static/hello.txt', { Range: 'bytes=6-9' });
    assert.equal(part.status, 206);
    assert.equal(part.text(), TEXT.slice(6, 10));
    assert.equal(part.get('content-range'), `bytes 6-9/${TEXT.length}`);
    assert.equal(part.get('content-length'), '4');
    const suffix = await get('/static/hello.txt', { Range: 'bytes=-5' });
    assert.equal(suffix.status, 206);
    assert.equal(suffix.text(), TEXT.slice(-5));
    const open = await get('/static/hello.txt', { Range: 'bytes=20-' });
    assert.equal(open.text(), TEXT.slice(20));
    const past = await get('/static/hello.txt', { Range: 'bytes=1000-2000' });
    assert.equal(past.status, 416);
    assert.equal(past.get('content-range'), `bytes */${TEXT.length}`);
    const multi = await get('/static/hello.txt', { Range: 'bytes=0-1,4-5' });
    assert.equal(multi.status, 200);
    assert.equal(multi.text(), TEXT);
    const junk = await get('/static/hello.txt', { Range: 'lines=1-2' });
    assert.equal(junk.status, 200, 'a range in another unit is ignored');
    const etag = part.get('etag');
    assert.equal((await get('/static/hello.txt', { Range: 'bytes=0-1', 'If-Range': etag })).status, 206);
    const stale = await get('/static/hello.txt', { Range: 'bytes=0-1', 'If-Range': '"old"' });
    assert.equal(stale.status, 200, 'If-Range naming another version gets the whole file');
    assert.equal(stale.text(), TEXT);
  });

  await t.test('HEAD: the GET head, no body', async () => {
    const res = await get('/static/hello.txt', {}, 'HEAD');
    assert.equal(res.status, 200);
    assert.equal(res.get('content-length'), String(TEXT.length));
    assert.equal(res.get('content-type'), 'text/plain; charset=utf-8');
    assert.ok(res.get('etag'));
    // The connection stays usable: a body sent after the HEAD head would be read as the next response.
    const client = await RawClient.connect(server.port);
    try {
      await client.write(buildRequest({ method: 'HEAD', path: '/static/hello.txt' }));
      const head = await client.readResponse({ head: true });
      assert.equal(head.status, 200);
      await client.write(buildRequest({ path: '/static/hello.txt' }));
      const next = await client.readResponse();
      assert.equal(next.text(), TEXT);
    } finally {
      client.close();
    }
  });

  await t.test('precompressed siblings: br before gzip when accepted, Vary always, the plain file otherwise', async () => {
    const br = await get('/static/site.css', { 'Accept-Encoding': 'gzip, deflate, br' });
    assert.equal(br.get('content-encoding'), 'br');
    assert.equal(br.get('content-type'), 'text/css; charset=utf-8');
    assert.equal(br.get('vary'), 'Accept-Encoding');
    assert.equal(brotliDecompressSync(br.body).toString(), CSS);
    const gz = await get('/static/site.css', { 'Accept-Encoding': 'gzip' });
    assert.equal(gz.get('content-encoding'), 'gzip');
    assert.equal(gunzipSync(gz.body).toString(), CSS);
    const refusedBr = await get('/static/site.css', { 'Accept-Encoding': 'br;q=0, gzip;q=0.5' });
    assert.equal(refusedBr.get('content-encoding'), 'gzip', 'q=0 refuses a coding');
    const plain = await get('/static/site.css');
    assert.equal(plain.get('content-encoding'), undefined);
    assert.equal(plain.get('vary'), 'Accept-Encoding');
    assert.equal(plain.text(), CSS);
    assert.notEqual(plain.get('etag'), gz.get('etag'), 'each representation has its own ETag');
    const none = await get('/static/hello.txt', { 'Accept-Encoding': 'gzip, br' });
    assert.equal(none.get('content-encoding'), undefined, 'no sibling: the file as it is');
    assert.equal(none.text(), TEXT);
  });

  await t.test('traversal attempts never reach a file outside the directory', async () => {
    const attempts = [
      '/static/../outside/secret.txt',
      '/static/%2e%2e/outside/secret.txt',
      '/static/%2E%2E%2Foutside%2Fsecret.txt',
      '/static/..%2foutside/secret.txt',
      '/static/..%5coutside%5csecret.txt',
      '/static/..\\outside\\secret.txt',
      '/static/sub/../../outside/secret.txt',
      '/static/hello.txt%00.png',
      '/static/%zz',
      '/static/link-out.txt',
      '/static/dir-out/secret.txt',
      '/static/./hello.txt',
    ];
    for (const target of attempts) {
      const res = await request(server.port, { raw: Buffer.from(`GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`, 'latin1') });
      assert.ok(!res.text().includes('TOP SECRET'), `${target} leaked the outside file`);
      // Refused by Node with a 404, or (a request llhttp refuses) a 400; never the app, never the file.
      assert.ok(res.status === 404 || res.status === 400, `${target}: ${res.status} ${res.text().slice(0, 100)}`);
    }
  });

  await t.test('misses, directories, dotfiles, other methods and bodies go to the app', async () => {
    assert.equal(appSaw(await get('/static/missing.txt')), '/static/missing.txt');
    assert.equal(appSaw(await get('/static/sub')), '/static/sub', 'a directory is never listed');
    assert.equal(appSaw(await get('/static/sub/')), '/static/sub/');
    assert.equal(appSaw(await get('/static')), '/static');
    assert.equal(appSaw(await get('/static/.env')), '/static/.env');
    assert.equal(appSaw(await get('/static/fifo.txt')), '/static/fifo.txt', 'a FIFO is not a file (and opening it does not block)');
    assert.equal(appSaw(await get('/staticfile')), '/staticfile', 'a prefix matches whole segments');
    assert.equal(appSaw(await get('/elsewhere')), '/elsewhere');
    const post = await request(server.port, { method: 'POST', path: '/static/hello.txt', body: 'x' });
    assert.equal(appSaw(post), '/static/hello.txt');
    const withBody = await request(server.port, { method: 'GET', path: '/static/hello.txt', body: 'x' });
    assert.equal(appSaw(withBody), '/static/hello.txt');
    await server.waitStdout(/"GET \/static\/missing.txt HTTP\/1.1" 200 /);
  });

  await t.test('pipelined: static answers and the app\u2019s stay in request order on one connection', async () => {
    const client = await RawClient.connect(server.port);
    try {
      await client.write(Buffer.concat(['/first', '/static/hello.txt', '/static/missing', '/static/hello.txt'].map((p) => buildRequest({ path: p }))));
      assert.equal(appSaw(await client.readResponse()), '/first');
      assert.equal((await client.readResponse()).text(), TEXT);
      assert.equal(appSaw(await client.readResponse()), '/static/missing');
      assert.equal((await client.readResponse()).text(), TEXT);
    } finally {
      client.close();
    }
  });

  await t.test('a 20 MB file arrives whole, and Node holds little of it for a client that stalls', async () => {
    const before = rssKb(server.pid);
    const socket = net.connect(server.port, '127.0.0.1');
    await once(socket, 'connect');
    socket.pause();
    socket.write(buildRequest({ path: '/static/big.bin' }));
    // The client reads nothing for a while: what it has not taken waits in the file, not in Node.
    await sleep(1500);
    const stalled = rssKb(server.pid);
    const chunks = [];
    socket.on('data', (c) => chunks.push(c));
    socket.resume();
    const buf = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('download timed out')), 60_000);
      const check = () => {
        const all = Buffer.concat(chunks);
        const at = all.indexOf('\r\n\r\n');
        if (at >= 0 && all.length - at - 4 >= BIG_SIZE) {
          clearTimeout(timer);
          resolve(all);
        }
      };
      socket.on('data', check);
      socket.on('error', reject);
    });
    socket.destroy();
    const at = buf.indexOf('\r\n\r\n');
    const head = buf.subarray(0, at).toString('latin1');
    assert.match(head, /^HTTP\/1.1 200 OK/);
    assert.match(head, /content-type: application\/octet-stream/i);
    assert.match(head, new RegExp(`content-length: ${BIG_SIZE}`, 'i'));
    const body = buf.subarray(at + 4);
    assert.equal(body.length, BIG_SIZE);
    assert.equal(createHash('sha256').update(body).digest('hex'), bigSha);
    t.diagnostic(`Node RSS ${before} kB before, ${stalled} kB while the client stalled`);
    if (before !== null && stalled !== null) assert.ok(stalled - before < BIG_SIZE / 1024 / 2, `Node grew by ${stalled - before} kB for a ${BIG_SIZE / 1024} kB file its client did not read`);
  });

  await t.test('clients that leave at once leave no file open in Node (nor did any answer before)', async () => {
    for (let i = 0; i < 50; i++) {
      const socket = net.connect(server.port, '127.0.0.1');
      await once(socket, 'connect');
      socket.write(buildRequest({ path: '/static/big.bin' }));
      socket.destroy();
    }
    // Node handles the 50 requests after their clients left, some of them after a first look
    // finds no file open: wait until none has been open for a while, not for the first moment.
    let noneSince = null;
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && (noneSince === null || Date.now() - noneSince < 1_500)) {
      if (fdsInDir(server.pid, pub)?.length === 0) noneSince ??= Date.now();
      else noneSince = null;
      await sleep(50);
    }
    assert.deepEqual(fdsInDir(server.pid, pub), []);
  });
});

test('--static-map over HTTP/2', async (t) => {
  const certs = makeCerts();
  t.after(() => certs.cleanup());
  const server = await serverFor(t, [...staticArgs, ...tlsArgs(certs), '--http-protocols', 'h2,h1']);
  const session = await h2connect(t, server.port, certs);

  await t.test('a file, 304, a range, HEAD and a gzip sibling', async () => {
    const res = await h2request(session, { path: '/static/hello.txt' });
    assert.equal(res.status, 200);
    assert.equal(res.text(), TEXT);
    assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
    const etag = res.headers.etag;
    assert.equal((await h2request(session, { path: '/static/hello.txt', headers: { 'if-none-match': etag } })).status, 304);
    const part = await h2request(session, { path: '/static/hello.txt', headers: { range: 'bytes=0-4' } });
    assert.equal(part.status, 206);
    assert.equal(part.text(), TEXT.slice(0, 5));
    const head = await h2request(session, { method: 'HEAD', path: '/static/hello.txt' });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], String(TEXT.length));
    assert.equal(head.body.length, 0);
    const gz = await h2request(session, { path: '/static/site.css', headers: { 'accept-encoding': 'gzip' } });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(gunzipSync(gz.body).toString(), CSS);
  });

  await t.test('the 20 MB file whole; traversal refused; a miss reaches the app', async () => {
    const res = await h2request(session, { path: '/static/big.bin', timeout: 60_000 });
    assert.equal(res.body.length, BIG_SIZE);
    assert.equal(createHash('sha256').update(res.body).digest('hex'), bigSha);
    const out = await h2request(session, { path: '/static/%2e%2e/outside/secret.txt' });
    assert.equal(out.status, 404);
    assert.ok(!out.text().includes('TOP SECRET'));
    const link = await h2request(session, { path: '/static/link-out.txt' });
    assert.equal(link.status, 404);
    const miss = await h2request(session, { path: '/static/missing.txt' });
    assert.equal(miss.status, 200);
    assert.equal(miss.json().environ.PATH_INFO, '/static/missing.txt');
  });
});

test('--static-map refuses what it cannot serve, at startup', async () => {
  const notDir = await runCli(['echo_app:app', '--chdir', APPS, '--static-map', `/s=${path.join(pub, 'hello.txt')}`, '-b', '127.0.0.1:0']);
  assert.equal(notDir.code, 2);
  assert.match(notDir.stderr, /--static-map: expected \/s=DIR with DIR a directory/);
  const noPrefix = await runCli(['echo_app:app', '--chdir', APPS, '--static-map', `static=${pub}`, '-b', '127.0.0.1:0']);
  assert.equal(noPrefix.code, 2);
  assert.match(noPrefix.stderr, /--static-map.*URL_PREFIX=DIR/);
  const badAge = await runCli(['echo_app:app', '--chdir', APPS, '--static-max-age', '-1', '-b', '127.0.0.1:0']);
  assert.equal(badAge.code, 2);
  assert.match(badAge.stderr, /--static-max-age/);
});
