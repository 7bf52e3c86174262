// Shared replay harness for the external corpora in ../shared/corpus (see its README §0).
//
// Not a test file (run.sh runs test/*.test.mjs only). Each corpus test builds a list of cases
// ({ id, raw, check, ... }), starts one server per configuration, and calls replayAll(): every
// case goes out three ways — whole, byte by byte, and in seeded random splits — on its own
// connection, several connections at a time. The seed is printed; NODICORN_CORPUS_SEED=N
// replays the same splits.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { APPS, ROOT, RawClient, ConnectionClosedError, startServer } from '../helpers.mjs';
import { makeCerts, tlsArgs, tlsRawClient } from '../tls-helpers.mjs';

/**
 * NODICORN_CORPUS_TLS=1 (run.sh's last pass): the servers listen with TLS and every case goes
 * over it. The parser then reads the TLS stream's plaintext (a byte-by-byte case becomes one
 * TLS record per byte), which must change no verdict.
 */
export const OVER_TLS = process.env.NODICORN_CORPUS_TLS === '1';
let certs = null;
function serverCerts() {
  if (certs === null) {
    certs = makeCerts();
    process.on('exit', () => certs.cleanup());
  }
  return certs;
}

const PROXY_V2_SIGNATURE = Buffer.from('\r\n\r\n\0\r\nQUIT\n', 'latin1');

/**
 * The length of the PROXY protocol header (a v1 line or a v2 block) that `raw` starts with, or 0.
 * Over TLS it goes in the clear before the handshake, as a load balancer sends it.
 */
function proxyHeaderLength(raw) {
  if (raw.subarray(0, 6).toString('latin1') === 'PROXY ') {
    const eol = raw.indexOf('\r\n');
    return eol < 0 ? raw.length : eol + 2;
  }
  if (raw.length >= 16 && raw.subarray(0, 12).equals(PROXY_V2_SIGNATURE)) return Math.min(raw.length, 16 + raw.readUInt16BE(14));
  return 0;
}

/** A client on `port`; over TLS, `clear` (a PROXY header) is sent before the handshake. */
function connect(port, clear) {
  return OVER_TLS ? tlsRawClient(port, serverCerts().ca, clear) : RawClient.connect(port);
}

/** ../shared/corpus beside the checkout (CI has it too); NODICORN_CORPUS_DIR overrides. */
export const CORPUS = process.env.NODICORN_CORPUS_DIR || path.resolve(ROOT, '..', 'shared', 'corpus');

/**
 * Why the corpus tests skip, or false when they run. The corpora are not in this repository: a
 * clone without ../shared skips them with this one reason. A NODICORN_CORPUS_DIR that names
 * nothing is not a skip but a failure (it was asked for), and .ci/run names the folder so.
 */
export const CORPUS_SKIP = !process.env.NODICORN_CORPUS_DIR && !existsSync(CORPUS) &&
  `external corpora not found (${CORPUS}): set NODICORN_CORPUS_DIR to the shared/corpus folder to run them`;

/** A corpus file, parsed; `whenSkipped` stands in for it when CORPUS_SKIP (the tests then skip). */
export function loadCorpus(rel, whenSkipped) {
  if (CORPUS_SKIP) return whenSkipped;
  const file = path.join(CORPUS, rel);
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`corpus file ${file} not readable (the corpora live in ../shared/corpus, or NODICORN_CORPUS_DIR): ${err.message}`);
  }
}

export const b64 = (s) => Buffer.from(s ?? '', 'base64');

/**
 * The message with "Host: localhost" after its request line (past any leading CRLFs): HTTP/1.1
 * without Host gets 400 (RFC 9112 §3.2), which hides the environ, so Host-less corpus messages
 * are replayed once more with one.
 */
export function addHost(raw) {
  let start = 0;
  while (raw[start] === 13 && raw[start + 1] === 10) start += 2;
  const eol = raw.indexOf('\r\n', start);
  return Buffer.concat([raw.subarray(0, eol + 2), Buffer.from('Host: localhost\r\n'), raw.subarray(eol + 2)]);
}

// ---------------------------------------------------------------------------------------------
// Seeded randomness: one seed per run, one stream per (case, mode) so a failure replays alone.

export function runSeed() {
  const fixed = process.env.NODICORN_CORPUS_SEED;
  return fixed ? Number(fixed) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
}

/** mulberry32: small, fast, good enough to pick split points and mutations. */
export function makeRng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hash32(text) {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

export const rngFor = (seed, ...parts) => makeRng(seed ^ hash32(parts.join('\0')));

// ---------------------------------------------------------------------------------------------
// Sending

export const MODES = ['whole', 'bytewise', 'splits'];

/** Bytewise sends this many bytes one at a time (every head, most bodies), the rest in one go. */
const BYTEWISE_MAX = 16 * 1024;

/**
 * The writes one mode makes of `raw` (a case's own segments, when it has them, for whole).
 * Bytewise goes one byte at a time up to `bytewiseLimit`, then sends the rest in one write.
 */
export function pieces(raw, mode, rng, segments = null, bytewiseLimit = BYTEWISE_MAX) {
  if (mode === 'whole') return segments ?? [raw];
  if (mode === 'bytewise') {
    const limit = Math.min(raw.length, bytewiseLimit);
    const out = [];
    for (let i = 0; i < limit; i++) out.push(raw.subarray(i, i + 1));
    if (raw.length > limit) out.push(raw.subarray(limit));
    return out;
  }
  // splits: 1..8 random cut points.
  if (raw.length < 2) return [raw];
  const cuts = new Set();
  const n = 1 + Math.floor(rng() * Math.min(8, raw.length - 1));
  while (cuts.size < n) cuts.add(1 + Math.floor(rng() * (raw.length - 1)));
  const sorted = [...cuts].sort((x, y) => x - y);
  const out = [];
  let at = 0;
  for (const c of sorted) {
    out.push(raw.subarray(at, c));
    at = c;
  }
  out.push(raw.subarray(at));
  return out;
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

/**
 * Writes each piece as its own send (TCP_NODELAY is on), yielding to the event loop between
 * them so they leave as separate segments. Stops quietly when the server has closed.
 */
async function send(client, parts, gapMs) {
  for (let i = 0; i < parts.length; i++) {
    if (client.ended || client.socket.destroyed) return false;
    try {
      await client.write(parts[i]);
    } catch {
      return false;
    }
    if (i < parts.length - 1) {
      if (gapMs > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
      else await nextTurn();
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// One exchange

/**
 * Sends `raw` one way and reads what comes back.
 *   expect: how many responses to wait for before deciding (default 1)
 *   heads: per response index, whether it answers a HEAD (no body)
 *   bytewiseLimit: how far bytewise goes one byte at a time
 *   halfClose: shut our write side after sending (incomplete messages)
 *   probeClose: after the responses, wait up to this many ms for the server to close
 *   timeout: per response
 * Result: { responses: [{ status, headers, body, get() }], closed, timedOut, error }.
 * After an error status (>= 400) it always probes for the close, and it reads whatever else
 * arrives, so a smuggled second response is seen.
 */
export async function exchange(port, raw, { mode = 'whole', rng = Math.random, segments = null, bytewiseLimit = BYTEWISE_MAX, expect = 1, heads = [], halfClose = false, probeClose = 0, timeout = 10_000 } = {}) {
  const result = { responses: [], closed: false, timedOut: false, error: null };
  const clear = OVER_TLS ? proxyHeaderLength(raw) : 0;
  let client;
  try {
    client = await connect(port, raw.subarray(0, clear));
  } catch (err) {
    // The server closed on the PROXY header itself (a malformed one), before any TLS.
    if (clear === 0) throw err;
    result.closed = true;
    return result;
  }
  raw = raw.subarray(clear);
  // One read; false when the exchange is over (closed, timed out, or garbage).
  const readOne = async (ms) => {
    try {
      result.responses.push(await client.readResponse({ head: !!heads[result.responses.length], timeout: ms }));
      return true;
    } catch (err) {
      if (err instanceof ConnectionClosedError) {
        result.closed = true;
        if (err.received.length) result.error = `garbage before close: ${JSON.stringify(err.received.toString('latin1').slice(0, 80))}`;
      } else if (/timed out/.test(err.message)) {
        result.timedOut = true;
      } else {
        result.error = err.message;
      }
      return false;
    }
  };
  try {
    const complete = await send(client, pieces(raw, mode, rng, segments, bytewiseLimit), mode === 'splits' ? 1 : 0);
    if (complete && halfClose) client.socket.end();
    const errorSeen = () => result.responses.some((r) => r.status >= 400);
    while (result.responses.length < expect && !errorSeen()) {
      if (!(await readOne(timeout))) return result;
    }
    // After an error (or where a close is expected): whatever else arrives, then the close.
    const probe = errorSeen() ? Math.max(probeClose, 2_000) : probeClose;
    const deadline = performance.now() + probe;
    for (let extra = 0; extra < 4; extra++) {
      const left = deadline - performance.now();
      const state = client.pending().length ? 'data' : probe > 0 ? await waitClosedOrData(client, Math.max(left, 0)) : 'timeout';
      if (state === 'timeout') break;
      if (state === 'closed' && client.pending().length === 0) {
        result.closed = true;
        break;
      }
      if (!(await readOne(Math.max(left, 100)))) break;
    }
  } finally {
    client.close();
  }
  return result;
}

/** Waits for more bytes or the close, whichever comes first: 'data' | 'closed' | 'timeout'. */
async function waitClosedOrData(client, ms) {
  const deadline = performance.now() + ms;
  for (;;) {
    if (client.length > 0) return 'data';
    if (client.ended) return 'closed';
    try {
      await client._more(deadline);
    } catch {
      return 'timeout';
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Running many cases

/** Runs fn over items with at most `concurrency` in flight; results in input order. */
export async function pool(items, concurrency, fn) {
  const out = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  });
  await Promise.all(lanes);
  return out;
}

/**
 * Replays every case in every mode. A case is { id, raw, port, group, check(result, mode),
 * options (for exchange), modes? }. check returns null (pass), { alt: status } (pass by a
 * refusal the corpus allows), or a string saying what is wrong. Returns a Tally.
 */
export async function replayAll(cases, { seed, modes = MODES, concurrency = 8 } = {}) {
  const tally = new Tally();
  const jobs = [];
  for (const c of cases) for (const mode of c.modes ?? modes) jobs.push({ c, mode });
  await pool(jobs, concurrency, async ({ c, mode }) => {
    let problem;
    try {
      const result = await exchange(c.port, c.raw, { ...c.options, mode, rng: rngFor(seed, c.id, mode) });
      problem = c.check(result, mode);
    } catch (err) {
      problem = `harness error: ${err.message}`;
    }
    tally.record(c.group, mode, c.id, problem);
  });
  return tally;
}

export class Tally {
  constructor() {
    this.counts = new Map(); // group -> mode -> {pass, total, alt}
    this.failures = [];
    this.alts = [];
  }

  record(group, mode, id, problem) {
    if (!this.counts.has(group)) this.counts.set(group, new Map());
    const byMode = this.counts.get(group);
    if (!byMode.has(mode)) byMode.set(mode, { pass: 0, total: 0, alt: 0 });
    const n = byMode.get(mode);
    n.total++;
    if (typeof problem === 'string') {
      this.failures.push(`${id} [${mode}]: ${problem}`);
      return;
    }
    n.pass++;
    if (problem?.alt) {
      n.alt++;
      if (mode === 'whole') this.alts.push(`${id}: ${problem.alt}`);
    }
  }

  /** "valid 52/52 (9 by an allowed refusal), invalid 64/64 (whole, bytewise, splits)", or per mode when they differ. */
  summary() {
    const order = (entries) => entries.sort(([a], [b]) => MODES.indexOf(a) - MODES.indexOf(b));
    const parts = [];
    const modeNames = new Set();
    for (const [group, byMode] of this.counts) {
      const modes = order([...byMode.entries()]);
      for (const [m] of modes) modeNames.add(m);
      const [, first] = modes[0];
      const same = modes.every(([, n]) => n.pass === first.pass && n.total === first.total);
      const alt = first.alt ? ` (${first.alt} by an allowed refusal)` : '';
      if (same) parts.push(`${group} ${first.pass}/${first.total}${alt}`);
      else parts.push(`${group} ${modes.map(([m, n]) => `${m} ${n.pass}/${n.total}`).join(' ')}`);
    }
    return `${parts.join(', ')} (${order([...modeNames].map((m) => [m])).map(([m]) => m).join(', ')})`;
  }

  /** The count line, then (on failure) the seed and the first failures: one string per line. */
  report(label, seed) {
    const lines = [`${label}: ${this.summary()}`];
    // NODICORN_CORPUS_VERBOSE=1: which cases passed by an allowed refusal instead of a 200.
    if (process.env.NODICORN_CORPUS_VERBOSE) lines.push(`allowed refusals: ${this.alts.sort().join(', ')}`);
    if (this.failures.length) {
      lines.push(`${this.failures.length} failures (seed ${seed}; rerun with NODICORN_CORPUS_SEED=${seed}):`);
      lines.push(...this.failures.slice(0, 60).map((f) => `  ${f}`));
      if (this.failures.length > 60) lines.push(`  ... and ${this.failures.length - 60} more`);
    }
    return lines;
  }
}

// ---------------------------------------------------------------------------------------------
// What to compare (README §0.3, §0.4)

/** Header-derived keys a server may strip or rewrite (hop-by-hop, framing). */
const LOOSE = new Set(['HTTP_CONNECTION', 'HTTP_KEEP_ALIVE', 'HTTP_TRANSFER_ENCODING', 'HTTP_EXPECT', 'HTTP_TE', 'HTTP_TRAILER']);

const splitList = (v) => v.split(',').map((s) => s.trim());

/** Differences between the environ a case expects and the one the echo app saw ([] = equal). */
export function environDiff(expected, actual) {
  const out = [];
  for (const [key, want] of Object.entries(expected)) {
    const got = actual[key];
    // The echo app reports CGI keys only (no '.'), so e.g. HTTP_X.CUSTOM|PIPE cannot be checked.
    if (LOOSE.has(key) || key.includes('.')) continue;
    if (key === 'CONTENT_LENGTH' && got === undefined && want === '0') continue;
    if (got === want) continue;
    if (typeof got === 'string' && key.startsWith('HTTP_') && splitList(got).join(',') === splitList(want).join(',')) continue;
    out.push(`${key}: want ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
  }
  for (const key of Object.keys(actual)) {
    if (!key.startsWith('HTTP_') || key in expected) continue;
    if (key === 'HTTP_CONTENT_TYPE' || key === 'HTTP_CONTENT_LENGTH' || !LOOSE.has(key)) {
      out.push(`unexpected ${key}=${JSON.stringify(actual[key])}`);
    }
  }
  return out;
}

/** The echo app's JSON from a response (body, or the X-Echo header for HEAD). */
export function echoOf(res) {
  const header = res.get('x-echo');
  const text = header ? Buffer.from(header, 'base64').toString('utf8') : res.body?.toString('utf8') ?? '';
  return JSON.parse(text);
}

export const statusList = (result) => result.responses.map((r) => r.status).join(',') || '-';

/**
 * The rule for a message that must be refused: the first response (if any) is one of `accept`
 * (any 4xx/5xx when accept is null), nothing after it is a 2xx, and the connection is closed.
 */
export function rejected(result, accept = null) {
  const statuses = result.responses.map((r) => r.status);
  if (statuses.some((s) => s < 300)) return `a 2xx for a message that must be refused (statuses ${statuses})`;
  if (result.error) return result.error;
  if (statuses.length === 0) return result.closed ? null : `neither a response nor a close${result.timedOut ? ' (timed out)' : ''}`;
  const first = statuses[0];
  if (accept ? !accept.includes(first) : first < 400) return `status ${first}, want ${accept ? accept.join('/') : '4xx/5xx'}`;
  if (!result.closed) return `status ${first} but the connection stayed open`;
  return null;
}

/**
 * The rule for messages that must be served: one 200 per expected message, in order, each with
 * the expected environ subset and body (expected: [{ environ, body: Buffer }]). A status from
 * `alt` (a strict-but-correct refusal the corpus allows, e.g. 400 for HTTP/1.1 without Host)
 * may stand in for a 200; nothing after it may be a 2xx. `expectClose`: the message ends the
 * connection, so nothing more is answered and the server closes.
 */
export function answered(result, expected, { alt = [], expectClose = false } = {}) {
  if (result.error) return result.error;
  const statuses = result.responses.map((r) => r.status);
  for (let i = 0; i < expected.length; i++) {
    const res = result.responses[i];
    if (!res) return `${statuses.length} responses (${statusList(result)}), want ${expected.length}${result.timedOut ? ' (timed out)' : result.closed ? ' (closed)' : ''}`;
    if (res.status !== 200) {
      if (!alt.includes(res.status)) return `response ${i + 1}: status ${res.status}, want 200${alt.length ? ` or ${alt.join('/')}` : ''}`;
      if (statuses.slice(i + 1).some((s) => s < 300)) return `a 2xx after the refusal ${res.status} (${statusList(result)})`;
      return { alt: res.status };
    }
    if (res.get('x-wsgi-validate')) return `wsgiref.validate: ${res.body?.toString('utf8').slice(0, 200)}`;
    const echo = echoOf(res);
    const diff = environDiff(expected[i].environ, echo.environ);
    if (diff.length) return `response ${i + 1}: ${diff.join('; ')}`;
    const body = Buffer.from(echo.body_b64, 'base64');
    const want = expected[i].body;
    if (!body.equals(want)) return `response ${i + 1}: body ${JSON.stringify(body.toString('latin1').slice(0, 60))}, want ${JSON.stringify(want.toString('latin1').slice(0, 60))}`;
  }
  // After a message that ends the connection nothing more is answered, not even with an error.
  const extra = statuses.slice(expected.length);
  if (extra.some((s) => s < 300) || (expectClose && extra.length)) return `${statuses.length} responses (${statusList(result)}), want ${expected.length}`;
  if (expectClose && !result.closed) return 'connection left open after a message that ends it';
  return null;
}

/** Prints the counts (and failures), checks the servers' logs, and fails on any failure. */
export function finish(t, label, tally, seed, { servers = [], notes = [] } = {}) {
  const lines = tally.report(label, seed);
  for (const line of [...lines, ...notes]) t.diagnostic(line);
  for (const s of servers) {
    assert.deepEqual(s.validationFailures(), [], 'wsgiref.validate failures in the server log');
    assert.deepEqual(crashLines(s), [], 'crash lines in the server log');
  }
  assert.deepEqual(tally.failures, [], lines.join('\n'));
}

/** Log lines no request may cause: an exception escaping in Node, or a worker that went away. */
export const crashLines = (server) =>
  server.stderrLines.filter((l) => /Uncaught|unhandled|TypeError|RangeError|ReferenceError|AssertionError|ERR_INTERNAL|worker .*(exited|was sent)/i.test(l));

/**
 * The corpus echo app (fixtures/apps/echo_app.py) under the real CLI, with extra flags. Returns
 * once every worker has been spawned: workers boot after the listeners (as gunicorn's do), and a
 * test that compares worker pids before and after must see them all first.
 */
export function startEcho(flags = []) {
  const w = flags.indexOf('--workers') >= 0 ? flags.indexOf('--workers') : flags.indexOf('-w');
  const waitWorkers = w >= 0 ? Number(flags[w + 1]) : 1;
  return startServer(['echo_app:app', '--chdir', APPS, ...(OVER_TLS ? tlsArgs(serverCerts()) : []), ...flags], { waitWorkers });
}
