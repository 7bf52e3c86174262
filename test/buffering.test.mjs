// Request buffering and response spooling: a request body is received whole (memory, then a
// temp file) before the app is called, unless its path streams (--stream-request-paths); a
// response is taken from the app at its pace and drained to the client at the client's. Temp
// files never outlive their use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { APPS } from './lib/paths.mjs';
import { runCli, serverFor } from './lib/server.mjs';
import { RawClient } from './lib/raw-client.mjs';
import { buildRequest, request } from './lib/http.mjs';
import { chunked, downloadSha } from './lib/bodies.mjs';
import { fdsInDir } from './lib/process.mjs';
import { sleep, waitUntil } from './lib/wait.mjs';

const KB = 1024;
const MB = 1024 * KB;
const sha = (buf) => createHash('sha256').update(buf).digest('hex');

function spoolDir(t) {
  const dir = mkdtempSync(path.join(tmpdir(), 'nodicorn-spool-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function connect(t, port) {
  const c = await RawClient.connect(port);
  t.after(() => c.close());
  return c;
}

/** The temp files are gone: none left in the directory, none open in the server. */
async function assertNoSpool(server, dir) {
  const open = await waitUntil(() => {
    const fds = fdsInDir(server.pid, dir);
    return fds === null || fds.length === 0 ? [] : null;
  });
  assert.deepEqual(open ?? fdsInDir(server.pid, dir), [], 'no temp file still open in the server');
  assert.deepEqual(readdirSync(dir), [], 'no temp file left in --spool-dir');
}

const spilled = (server) => server.stderrLines.filter((l) => l.includes('spooled to a temp file')).length;

test('a spooled request body reaches the app intact: memory and temp file, Content-Length and chunked', async (t) => {
  const dir = spoolDir(t);
  const server = await serverFor(t, ['mixed_app:app', '--chdir', APPS, '-w', '1', '--body-buffer-size', String(64 * KB), '--spool-dir', dir, '--log-level', 'debug']);
  const cases = [
    { size: 10 * KB, coding: 'length', spills: false },
    { size: 10 * KB, coding: 'chunked', spills: false },
    { size: 64 * KB, coding: 'length', spills: false },
    { size: 3 * MB + 17, coding: 'length', spills: true },
    { size: 3 * MB + 17, coding: 'chunked', spills: true },
  ];
  for (const { size, coding, spills } of cases) {
    await t.test(`${size} bytes, ${coding}: ${spills ? 'temp file' : 'memory'}`, async () => {
      const data = randomBytes(size);
      const before = spilled(server);
      const raw = coding === 'chunked'
        ? Buffer.concat([buildRequest({ method: 'POST', path: '/upload', headers: [['Transfer-Encoding', 'chunked']] }), chunked(data, 100 * KB + 3)])
        : buildRequest({ method: 'POST', path: '/upload', body: data });
      const res = await request(server.port, { raw }, { timeout: 30_000 });
      assert.equal(res.status, 200, res.text());
      assert.deepEqual(res.json(), { bytes: size, sha256: sha(data) });
      assert.equal(spilled(server) - before, spills ? 1 : 0, 'spooled to a temp file exactly when past --body-buffer-size');
    });
  }
  await t.test('a temp file exists (as an open descriptor only) while a large body arrives', async (t) => {
    const c = await connect(t, server.port);
    const data = randomBytes(MB);
    await c.write(buildRequest({ method: 'POST', path: '/upload', headers: [['Content-Length', String(2 * MB)]] }));
    await c.write(data);
    const fds = await waitUntil(() => fdsInDir(server.pid, dir)?.length, 5_000);
    if (fdsInDir(server.pid, dir) !== null) assert.ok(fds >= 1, 'the body past --body-buffer-size is in a temp file');
    // Unlinked right after it is opened (an instant later: the unlink is asynchronous).
    await waitUntil(() => readdirSync(dir).length === 0, 2_000);
    assert.deepEqual(readdirSync(dir), [], 'the temp file has no name');
    if (fdsInDir(server.pid, dir) !== null) assert.ok(fdsInDir(server.pid, dir).length >= 1, 'yet it is still open');
    await c.write(data);
    const res = await c.readResponse({ timeout: 30_000 });
    assert.equal(res.json().bytes, 2 * MB);
  });
  await t.test('on Linux the worker reads the temp file itself, through /proc, instead of the pipe', async () => {
    const data = randomBytes(2 * MB + 5);
    const res = await request(server.port, { raw: buildRequest({ method: 'POST', path: '/upload?fds=1', body: data }) }, { timeout: 30_000 });
    assert.equal(res.status, 200, res.text());
    const { bytes, sha256, unlinked } = res.json();
    assert.deepEqual({ bytes, sha256 }, { bytes: data.length, sha256: sha(data) });
    const inSpool = unlinked.filter((f) => f.startsWith(`${dir}${path.sep}nodicorn-`));
    if (process.platform === 'linux') assert.equal(inSpool.length, 1, `the worker held the spool file open: ${JSON.stringify(unlinked)}`);
    else assert.deepEqual(inSpool, [], 'elsewhere the body comes down the pipe');
  });
  await t.test('a client that leaves mid-upload leaves no temp file', async (t) => {
    const c = await connect(t, server.port);
    await c.write(buildRequest({ method: 'POST', path: '/upload', headers: [['Content-Length', String(4 * MB)]] }));
    await c.write(randomBytes(MB));
    await waitUntil(() => fdsInDir(server.pid, dir)?.length, 5_000);
    c.close();
    await assertNoSpool(server, dir);
  });
  await assertNoSpool(server, dir);
});

test('the app is called once the body is whole; --stream-request-paths streams it as it comes', async (t) => {
  const server = await serverFor(t, ['mixed_app:app', '--chdir', APPS, '-w', '1', '--threads', '1', '--stream-request-paths', '/first/streamed']);
  const head = (target) => buildRequest({ method: 'POST', path: target, headers: [['Content-Length', '10']] });

  await t.test('buffered: nothing reaches the app before the last byte, and the worker stays free', async (t) => {
    const c = await connect(t, server.port);
    await c.write(head('/first/buffered'));
    await c.write('abcde');
    // The only worker thread is free while this body is incomplete.
    const other = await request(server.port, { path: '/' }, { timeout: 5_000 });
    assert.equal(other.text(), 'hello');
    await sleep(300);
    assert.equal(c.length, 0, 'no response byte before the body is complete');
    await c.write('fghij');
    const res = await c.readResponse();
    assert.equal(res.text(), 'first:abcde\nrest:5\n');
  });

  await t.test('streamed: the app reads the first bytes while the client still sends', async (t) => {
    const c = await connect(t, server.port);
    await c.write(head('/first/streamed/upload'));
    await c.write('abcde');
    const status = (await c.readLine(performance.now() + 5_000))?.toString('latin1');
    assert.equal(status, 'HTTP/1.1 200 OK');
    // Read the chunked body up to the first line, still without sending the rest.
    const deadline = performance.now() + 5_000;
    let seen = '';
    while (!seen.includes('first:abcde')) {
      const line = await c.readLine(deadline);
      assert.notEqual(line, null, 'connection closed');
      seen += `${line.toString('latin1')}\n`;
    }
    await c.write('fghij');
    const tail = [];
    await c.readToEnd(performance.now() + 2_000, (b) => tail.push(b)).catch(() => {});
    assert.match(Buffer.concat(tail).toString('latin1'), /rest:5/);
  });
});

test('Expect: 100-continue with a buffered body: Node answers 100 at once, whatever the app does', async (t) => {
  const server = await serverFor(t, ['hello_app:app', '--chdir', APPS, '--limit-request-body', String(MB)]);
  const expect = (length) => buildRequest({ method: 'POST', path: '/ignores-body', headers: [['Content-Length', String(length)], ['Expect', '100-continue']] });

  await t.test('100 Continue before the body, then the final response', async (t) => {
    const c = await connect(t, server.port);
    await c.write(expect(1000));
    const interim = await c.readResponse({ keepInterim: true, timeout: 5_000 });
    assert.equal(interim.status, 100, 'the app ignores the body, yet Node asks for it: it reads it before the app runs');
    await c.write(Buffer.alloc(1000, 0x61));
    const res = await c.readResponse();
    assert.equal(res.status, 200);
    assert.equal(res.text(), 'hello');
    assert.equal(res.interim.length, 0, 'only one 100 Continue');
  });

  await t.test('a body over --limit-request-body: 413, no 100 first', async (t) => {
    const c = await connect(t, server.port);
    await c.write(expect(2 * MB));
    const res = await c.readResponse({ keepInterim: true, timeout: 5_000 });
    assert.equal(res.status, 413);
    assert.equal(await c.waitClosed(2_000), true);
  });
});

test('--limit-request-body while spooling: a chunked body crossing it gets 413, and its temp file goes', async (t) => {
  const dir = spoolDir(t);
  const server = await serverFor(t, ['mixed_app:app', '--chdir', APPS, '-w', '1', '--limit-request-body', String(MB), '--body-buffer-size', String(64 * KB), '--spool-dir', dir, '--log-level', 'debug']);
  const c = await connect(t, server.port);
  await c.write(buildRequest({ method: 'POST', path: '/upload', headers: [['Transfer-Encoding', 'chunked']] }));
  const piece = Buffer.concat([Buffer.from(`${(100 * KB).toString(16)}\r\n`), randomBytes(100 * KB), Buffer.from('\r\n')]);
  let res = null;
  const reading = c.readResponse({ timeout: 10_000 }).then((r) => (res = r));
  for (let sent = 0; sent < 2 * MB && res === null; sent += 100 * KB) await c.write(piece).catch(() => {});
  await reading;
  assert.equal(res.status, 413);
  assert.equal(await c.waitClosed(2_000), true, 'closed after the 413');
  await server.waitStderr(/DEBUG.*413 .*chunked body exceeds --limit-request-body 1048576/, 5_000);
  assert.equal(server.stderrLines.filter((l) => l.includes('ERROR')).length, 0, server.stderrText());
  await assertNoSpool(server, dir);
  const ok = await request(server.port, { method: 'POST', path: '/upload', body: 'still serving' });
  assert.equal(ok.json().bytes, 13);
});

test('--body-timeout: a body that trickles gets 408; a steady one passes thanks to --body-min-rate', async (t) => {
  const server = await serverFor(t, ['mixed_app:app', '--chdir', APPS, '--body-timeout', '1', '--body-min-rate', '1000', '--log-level', 'debug']);

  await t.test('stalled: 408 and close', async (t) => {
    const c = await connect(t, server.port);
    const started = performance.now();
    await c.write(buildRequest({ method: 'POST', path: '/upload', headers: [['Content-Length', '100']] }));
    await c.write('0123456789');
    const res = await c.readResponse({ timeout: 10_000 });
    assert.equal(res.status, 408);
    assert.ok(performance.now() - started >= 900, 'not before --body-timeout');
    assert.equal(await c.waitClosed(2_000), true);
    await server.waitStderr(/DEBUG.*408 .*request body too slow: 10 bytes/, 5_000);
  });

  await t.test('trickling 1 byte per 100 ms: 408', async (t) => {
    const c = await connect(t, server.port);
    await c.write(buildRequest({ method: 'POST', path: '/upload', headers: [['Content-Length', '1000']] }));
    let res = null;
    const reading = c.readResponse({ timeout: 10_000 }).then((r) => (res = r));
    for (let i = 0; i < 100 && res === null; i++) {
      await c.write('x').catch(() => {});
      await sleep(100);
    }
    await reading;
    assert.equal(res.status, 408);
  });

  await t.test('steady at about 4000 bytes/s for 2.5 s: passes', async (t) => {
    const c = await connect(t, server.port);
    const data = randomBytes(10_000);
    await c.write(buildRequest({ method: 'POST', path: '/upload', headers: [['Content-Length', String(data.length)]] }));
    for (let at = 0; at < data.length; at += 1000) {
      await c.write(data.subarray(at, at + 1000));
      await sleep(250);
    }
    const res = await c.readResponse({ timeout: 10_000 });
    assert.equal(res.status, 200, res.text());
    assert.deepEqual(res.json(), { bytes: data.length, sha256: sha(data) });
  });
});

test('a client that stops reading a large response does not hold the worker; it gets it intact later', async (t) => {
  const dir = spoolDir(t);
  const server = await serverFor(t, ['mixed_app:app', '--chdir', APPS, '-w', '1', '--threads', '1', '--spool-dir', dir]);
  const c = await connect(t, server.port);
  c.socket.pause();
  await c.write(buildRequest({ path: '/download?mb=16&piece=64' }));
  // The only worker thread serves another client while the first one reads nothing.
  const other = await request(server.port, { path: '/' }, { timeout: 10_000 });
  assert.equal(other.text(), 'hello');
  const fds = fdsInDir(server.pid, dir);
  if (fds !== null) assert.ok(fds.length >= 1, 'what the client has not read waits in a temp file');
  await waitUntil(() => readdirSync(dir).length === 0, 2_000);
  assert.deepEqual(readdirSync(dir), [], 'the temp file has no name');
  const hash = createHash('sha256');
  const reading = c.readResponse({ timeout: 60_000, sink: (b) => hash.update(b) });
  c.socket.resume();
  const res = await reading;
  assert.equal(res.status, 200);
  assert.equal(res.bodyLength, 16 * MB);
  assert.equal(hash.digest('hex'), downloadSha(16));
  await assertNoSpool(server, dir);
});

test('--send-timeout: a client that reads nothing is cut off and its temp file goes; a slow steady reader is not', async (t) => {
  const dir = spoolDir(t);
  const server = await serverFor(t, ['mixed_app:app', '--chdir', APPS, '-w', '1', '--spool-dir', dir, '--send-timeout', '2', '--log-level', 'debug']);

  await t.test('reads nothing: closed after about two seconds, nothing left behind', async (t) => {
    const c = await connect(t, server.port);
    c.socket.pause();
    await c.write(buildRequest({ path: '/download?mb=16&piece=64' }));
    const line = await server.waitStderr(/DEBUG.*client took none of \d+ waiting bytes in 2\.0 s \(--send-timeout\)/, 10_000);
    assert.ok(line, 'the cut is logged at debug with its reason');
    await assertNoSpool(server, dir);
    c.socket.resume();
    const got = [];
    await c.readToEnd(performance.now() + 5_000, (b) => got.push(b)).catch(() => {});
    assert.ok(c.ended, 'the connection is closed');
    assert.ok(Buffer.concat(got).length < 16 * MB, 'and the response was not completed');
  });

  await t.test('reads a little every 0.6 s: served whole, though it takes longer than the timeout', async (t) => {
    const c = await connect(t, server.port);
    c.socket.pause();
    const hash = createHash('sha256');
    const started = performance.now();
    const reading = c.readResponse({ timeout: 60_000, sink: (b) => hash.update(b) });
    // 48 MiB: loopback socket buffers hold several MiB each way, so a smaller body can be read
    // whole in a few windows, before the timeout's two seconds have passed. Two seconds, not
    // one: a 0.6 s pause must not stretch past the timeout on a loaded machine.
    await c.write(buildRequest({ path: '/download?mb=48&piece=64' }));
    let done = false;
    reading.finally(() => (done = true));
    while (!done) {
      await sleep(600);
      c.socket.resume();
      await sleep(20);
      if (!done) c.socket.pause();
    }
    const res = await reading;
    c.socket.resume();
    assert.equal(res.bodyLength, 48 * MB);
    assert.equal(hash.digest('hex'), downloadSha(48));
    assert.ok(performance.now() - started > 2_500, 'the download outlasted --send-timeout, so the clock restarted as it read');
  });

  const ok = await request(server.port, { path: '/' });
  assert.equal(ok.text(), 'hello');
});

test('--max-temp-file-size 0: responses are not spooled to disk, so the app waits for the client', async (t) => {
  const dir = spoolDir(t);
  const server = await serverFor(t, ['mixed_app:app', '--chdir', APPS, '-w', '1', '--threads', '1', '--spool-dir', dir, '--max-temp-file-size', '0']);
  const c = await connect(t, server.port);
  c.socket.pause();
  await c.write(buildRequest({ path: '/download?mb=16&piece=64' }));
  await sleep(500);
  const other = await RawClient.connect(server.port);
  t.after(() => other.close());
  await other.write(buildRequest({ path: '/' }));
  await sleep(1_000);
  assert.equal(other.length, 0, 'the only worker thread is still sending the first response');
  assert.deepEqual(fdsInDir(server.pid, dir) ?? [], [], 'no temp file');
  const hash = createHash('sha256');
  const reading = c.readResponse({ timeout: 60_000, sink: (b) => hash.update(b) });
  c.socket.resume();
  assert.equal((await reading).bodyLength, 16 * MB);
  assert.equal(hash.digest('hex'), downloadSha(16));
  assert.equal((await other.readResponse()).text(), 'hello');
});

test('temp files go with the server: a graceful stop, and even SIGKILL, leave none behind', async (t) => {
  for (const signal of ['SIGTERM', 'SIGKILL']) {
    await t.test(signal, async (t) => {
      const dir = spoolDir(t);
      const server = await serverFor(t, ['mixed_app:app', '--chdir', APPS, '-w', '1', '--spool-dir', dir, '--graceful-timeout', '1']);
      const c = await connect(t, server.port);
      await c.write(buildRequest({ method: 'POST', path: '/upload', headers: [['Content-Length', String(4 * MB)]] }));
      await c.write(randomBytes(MB));
      const fds = await waitUntil(() => fdsInDir(server.pid, dir)?.length, 5_000);
      if (fdsInDir(server.pid, dir) !== null) assert.ok(fds >= 1, 'mid-upload, the body is in a temp file');
      await waitUntil(() => readdirSync(dir).length === 0, 2_000);
      if (signal === 'SIGKILL') await server.kill();
      else await server.stop(signal);
      assert.deepEqual(readdirSync(dir), [], `no temp file left after ${signal}`);
    });
  }
});

test('--spool-dir that is not a writable directory: one line at start, exit 2', async () => {
  const missing = path.join(tmpdir(), 'nodicorn-no-such-dir', 'spool');
  const r = await runCli(['hello_app:app', '--chdir', APPS, '--bind', '127.0.0.1:0', '--spool-dir', missing]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`--spool-dir: expected a writable directory, got "${missing}"`));
});
