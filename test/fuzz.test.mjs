// A bounded fuzz of the HTTP front: a fixed count of random and mutated requests (corpus requests
// with flipped, inserted and deleted bytes, duplicated lines, odd whitespace, huge numbers, NULs),
// sent whole or in random splits on several connections at once. Each must get a response or a
// close within a deadline (after our FIN at the latest), never a hang. Afterwards the server
// still serves correctly, its workers are the ones it started with (parser input never kills a
// worker), and its log shows no crash. NODICORN_CORPUS_SEED=N replays a run; NODICORN_FUZZ_COUNT
// changes the count.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, bootedPids, buildRequest, request } from './helpers.mjs';
import { CORPUS_SKIP, addHost, b64, crashLines, loadCorpus, makeRng, pieces, pool, runSeed, startEcho } from './corpus/harness.mjs';

const COUNT = Number(process.env.NODICORN_FUZZ_COUNT ?? 3000);
const seed = runSeed();

/** Seeds for mutation: requests from every corpus, plus plain valid ones. */
function seedRequests() {
  const out = [];
  for (const c of loadCorpus('gunicorn-requests/manifest.json').cases) out.push(b64(c.raw_blackbox_b64 ?? c.raw_b64));
  for (const c of loadCorpus('llhttp/manifest.json').cases) if (c.blackbox) out.push(b64(c.raw_b64));
  for (const c of loadCorpus('http-desync-guardian/manifest.json').cases) out.push(addHost(b64(c.raw_head_b64)));
  out.push(buildRequest({ method: 'POST', path: '/p?q=1', body: 'hello world' }));
  out.push(buildRequest({ method: 'POST', path: '/c', headers: [['Transfer-Encoding', 'chunked']], body: '5\r\nhello\r\n0\r\n\r\n' }));
  out.push(buildRequest({ path: '/', version: '1.0' }));
  // Most corpus requests lack Host (so get 400 at once): a copy with one goes deeper. Huge
  // bodies would only measure bandwidth.
  const withHost = out.filter((b) => !/\r\nhost:/i.test(b.toString('latin1'))).map(addHost);
  return [...out, ...withHost].filter((b) => b.length < 20_000);
}

const SPICE = ['\r\n', '\n', '\r', '\0', '\t', ' ', ':', ',', ';', '\x0b', '\x0c', '\x7f', '\xff', '\xa0', '%00', '%', '0x', '-1',
  '99999999999999999999999', '18446744073709551616', 'chunked', 'Transfer-Encoding: chunked\r\n', 'Content-Length: 5\r\n',
  'Content-Length: 0\r\n', 'Host: x\r\n', 'Connection: close\r\n', 'Expect: 100-continue\r\n', 'Upgrade: h2c\r\n',
  '\r\n\r\n', '0\r\n\r\n', 'GET / HTTP/1.1\r\n', 'HTTP/1.1', 'HTTP/2.0', '*', '//', '?', '#', '\u00e9'];

const pick = (rng, list) => list[Math.floor(rng() * list.length)];
const int = (rng, n) => Math.floor(rng() * n);

/** One mutation of `buf`. */
function mutate(rng, buf) {
  const at = int(rng, buf.length + 1);
  switch (int(rng, 9)) {
    case 0: { // flip bits in a few bytes
      const out = Buffer.from(buf);
      for (let i = 0, n = 1 + int(rng, 4); i < n && out.length; i++) out[int(rng, out.length)] ^= 1 << int(rng, 8);
      return out;
    }
    case 1: // insert a spice string
      return Buffer.concat([buf.subarray(0, at), Buffer.from(pick(rng, SPICE), 'latin1'), buf.subarray(at)]);
    case 2: // delete a range
      return Buffer.concat([buf.subarray(0, at), buf.subarray(at + 1 + int(rng, 16))]);
    case 3: { // duplicate a line
      const lines = buf.toString('latin1').split('\r\n');
      const i = int(rng, lines.length);
      lines.splice(i, 0, lines[i] ?? '');
      return Buffer.from(lines.join('\r\n'), 'latin1');
    }
    case 4: // random bytes
      return Buffer.concat([buf.subarray(0, at), Buffer.from(Array.from({ length: 1 + int(rng, 8) }, () => int(rng, 256))), buf.subarray(at)]);
    case 5: // a number grows huge
      return Buffer.from(buf.toString('latin1').replace(/\d+/, () => '9'.repeat(1 + int(rng, 40))), 'latin1');
    case 6: // whitespace changes
      return Buffer.from(buf.toString('latin1').replace(/[ :]/, (m) => pick(rng, [' \t', '\t', '  ', ' :', ': ', '\x0b', '']) + m), 'latin1');
    case 7: // truncate
      return buf.subarray(0, at);
    default: // two requests glued
      return Buffer.concat([buf, pick(rng, POOL)]);
  }
}

let POOL = [];

function generate(rng) {
  if (rng() < 0.08) return Buffer.from(Array.from({ length: 1 + int(rng, 300) }, () => int(rng, 256)));
  let buf = pick(rng, POOL);
  const n = rng() < 0.7 ? 1 : rng() < 0.7 ? 2 : 3;
  for (let i = 0; i < n; i++) buf = mutate(rng, buf);
  return buf;
}

/**
 * Sends `raw`; returns 'closed', 'hang', or the first response's status class ('2xx', '4xx'...). A request may legitimately wait for
 * more bytes, so after a quiet spell we send FIN: from then on the server must answer or close.
 */
async function probe(port, raw, rng) {
  const client = await RawClient.connect(port);
  try {
    // Byte by byte for short inputs only: a long one would only cost time.
    const mode = rng() < 0.2 && raw.length <= 2_000 ? 'bytewise' : rng() < 0.5 ? 'splits' : 'whole';
    for (const piece of pieces(raw, mode, rng)) {
      if (client.ended) break;
      try {
        await client.write(piece);
      } catch {
        break;
      }
      if (mode !== 'whole') await new Promise((resolve) => setImmediate(resolve));
    }
    let outcome = await answerOrClose(client, 500);
    if (outcome === 'quiet') {
      client.socket.end();
      outcome = await answerOrClose(client, 5_000);
    }
    if (outcome !== 'response') return outcome === 'quiet' ? 'hang' : outcome;
    const status = /^HTTP\/1\.[01] (\d\d\d) /.exec(client.pending().toString('latin1'));
    return status ? status[1] : 'garbage';
  } finally {
    client.close();
  }
}

/** 'response' once a status line is in, 'closed' at EOF, 'quiet' when nothing came in `ms`. */
async function answerOrClose(client, ms) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (client.pending().indexOf('\n') >= 0) return 'response';
    if (client.ended) return 'closed';
    const left = deadline - Date.now();
    if (left <= 0) return 'quiet';
    try {
      await client._more(performance.now() + left);
    } catch {
      return 'quiet';
    }
  }
}

test(`fuzz: ${COUNT} random and mutated requests`, { skip: CORPUS_SKIP }, async (t) => {
  POOL = seedRequests();
  const server = await startEcho(['--workers', '2', '--threads', '4']);
  t.after(() => server.kill());
  const pidsBefore = bootedPids(server);
  t.diagnostic(`fuzz seed ${seed} (rerun with NODICORN_CORPUS_SEED=${seed})`);

  const outcomes = {};
  const bad = [];
  const inputs = Array.from({ length: COUNT }, (_, i) => i);
  await pool(inputs, 16, async (i) => {
    const rng = makeRng((seed ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0);
    const raw = generate(rng);
    const outcome = await probe(server.port, raw, rng);
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    // A 5xx other than 501 (a transfer coding we do not implement) or 505 would be the server's
    // own failure on a bad request: the answer to bad input is a 4xx or a close.
    const failed = outcome === 'hang' || outcome === 'garbage' || (outcome.startsWith('5') && outcome !== '501' && outcome !== '505');
    if (failed && bad.length < 10) bad.push(`#${i} ${outcome}: ${JSON.stringify(raw.toString('latin1').slice(0, 200))}`);
  });
  const counts = Object.entries(outcomes).sort().map(([k, n]) => `${n} ${k}`).join(', ');
  t.diagnostic(`fuzz: ${COUNT} inputs: ${counts}`);
  assert.deepEqual(bad, [], `inputs that got neither a response nor a close, not HTTP back, or a server error (seed ${seed})`);

  // Still serving, correctly, with the same workers.
  assert.equal(server.exitInfo, null, 'the server exited');
  const res = await request(server.port, { method: 'POST', path: '/after?x=1', body: 'still here' });
  assert.equal(res.status, 200);
  assert.equal(res.json().environ.PATH_INFO, '/after');
  assert.equal(Buffer.from(res.json().body_b64, 'base64').toString(), 'still here');
  assert.ok(pidsBefore.includes(Number(res.get('x-worker-pid'))), 'a worker answered that the server did not start with');
  assert.deepEqual(bootedPids(server), pidsBefore, 'a worker was replaced during the fuzz');

  assert.deepEqual(crashLines(server), [], 'crash lines in the server log');
  assert.deepEqual(server.validationFailures(), [], 'wsgiref.validate failures in the server log');
});
