// llhttp's own request spec (test/request/*.md, the parser inside node:http), replayed
// black-box: messages llhttp parses must reach the app with the environ and body its callback log
// shows; errors must be refused (after the messages that completed before them), never 2xx.
// Every case runs whole, byte by byte and in random splits. See ../shared/corpus/README.md §3.
import { test } from 'node:test';
import { CORPUS_SKIP, addHost, answered, b64, finish, loadCorpus, rejected, replayAll, runSeed, startEcho } from './corpus/harness.mjs';

const manifest = loadCorpus('llhttp/manifest.json', { cases: [] });
const seed = runSeed();

/**
 * Where nodicorn answers differently from llhttp's log on purpose: the case still runs and must
 * give what `check` says. One line of why each.
 */
const DELIBERATE = {
  'transfer-encoding.md:754+Host': { check: (result) => rejected(result, [501]), why: 'a transfer coding other than chunked gets 501 (RFC 9112 §6.1): the app would get still-deflated bytes' },
  'transfer-encoding.md:796+Host': { check: (result) => rejected(result, [501]), why: 'as transfer-encoding.md:754' },
  'method.md:138': { check: (result) => rejected(result, [400]), why: 'M-SEARCH * is refused: the asterisk form is for OPTIONS only (RFC 9112 §3.2.4)' },
};

/** PEP 3333 environ of one message from llhttp's log (spans are bytes as latin-1). */
function environOf(m) {
  let target = m.target;
  const hash = target.indexOf('#');
  if (hash >= 0) target = target.slice(0, hash);
  const q = target.indexOf('?');
  let path = q >= 0 ? target.slice(0, q) : target;
  const query = q >= 0 ? target.slice(q + 1) : '';
  const authority = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i.exec(path);
  if (authority) path = path.slice(authority[0].length) || '/';
  const environ = {
    REQUEST_METHOD: m.method,
    PATH_INFO: Buffer.from(decodeURIComponentBytes(path)).toString('latin1'),
    QUERY_STRING: query,
    SERVER_PROTOCOL: `HTTP/${m.version}`,
  };
  for (const [name, rawValue] of m.headers) {
    if (name.includes('_')) continue;
    const upper = name.toUpperCase().replace(/-/g, '_');
    const key = upper === 'CONTENT_TYPE' || upper === 'CONTENT_LENGTH' ? upper : `HTTP_${upper}`;
    const value = rawValue.replace(/^[ \t]+|[ \t]+$/g, '');
    environ[key] = key in environ ? `${environ[key]},${value}` : value;
  }
  return environ;
}

/** Percent-decoding to bytes (a "%" without two hex digits stays). */
function decodeURIComponentBytes(text) {
  const out = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '%' && /^[0-9a-f]{2}$/i.test(text.slice(i + 1, i + 3))) {
      out.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      out.push(text.charCodeAt(i) & 0xff);
    }
  }
  return out;
}

const noHost = (c) => c.notes.includes('http11_no_host');
const expectedOf = (messages) => messages.map((m) => ({ environ: environOf(m), body: b64(m.body_b64) }));

/** The check for one case, by llhttp's verdict. */
function checkFor(c, alt = noHost(c) ? [400] : []) {
  const done = c.messages.slice(0, c.error ? c.error.after_complete_messages : c.messages.length);
  switch (c.verdict) {
    case 'ok':
      return (result) => answered(result, expectedOf(done), { alt });
    case 'close_after':
      // "Data after Connection: close": the message is answered, the rest ignored, then close.
      return (result) => answered(result, expectedOf(done), { alt, expectClose: true });
    case 'error':
      return (result) => {
        if (done.length === 0) return rejected(result);
        const served = answered({ ...result, responses: result.responses.slice(0, done.length) }, expectedOf(done), { alt });
        if (typeof served === 'string') return served;
        return rejected({ ...result, responses: result.responses.slice(done.length) });
      };
    case 'upgrade':
      // llhttp stops at CONNECT/Upgrade/PRI; a WSGI server has no tunnel, so the message is
      // served (or refused: CONNECT gets 405), and what follows it is never answered with a 2xx.
      return (result) => {
        const connect = done.some((m) => m.method === 'CONNECT');
        const statuses = result.responses.map((r) => r.status);
        if (connect || done.length === 0) return statuses.some((s) => s < 300) ? `a 2xx for CONNECT/PRI (${statuses})` : null;
        const served = answered({ ...result, responses: result.responses.slice(0, done.length) }, expectedOf(done), { alt });
        if (typeof served === 'string') return served;
        return statuses.slice(done.length).some((s) => s < 300) ? `a 2xx after the upgrade point (${statuses})` : served;
      };
    default:
      throw new Error(`${c.id}: unknown verdict ${c.verdict}`);
  }
}

test('llhttp request corpus', { skip: CORPUS_SKIP }, async (t) => {
  const server = await startEcho();
  t.after(() => server.kill());
  const cases = [];
  for (const c of manifest.cases.filter((x) => x.blackbox)) {
    const done = c.messages.length;
    const errorAt = c.error ? c.error.after_complete_messages : done;
    cases.push({
      id: c.id,
      group: c.verdict,
      raw: b64(c.raw_b64),
      port: server.port,
      options: {
        expect: Math.min(done, errorAt),
        heads: c.messages.map((m) => m.method === 'HEAD'),
        // After an error, or where llhttp says the connection ends: wait for the close.
        probeClose: c.verdict === 'ok' ? 0 : 2_000,
      },
      check: DELIBERATE[c.id]?.check ?? checkFor(c),
    });
    // HTTP/1.1 without Host gets 400 (RFC 9112 §3.2), which hides the environ: replay a single
    // message once more with a Host line, so what llhttp parsed is checked too.
    if (noHost(c) && c.verdict !== 'error' && done === 1) {
      const withHost = { ...c, messages: [{ ...c.messages[0], headers: [['Host', 'localhost'], ...c.messages[0].headers] }] };
      const id = `${c.id}+Host`;
      cases.push({ ...cases[cases.length - 1], id, group: `${c.verdict}+Host`, raw: addHost(b64(c.raw_b64)), check: DELIBERATE[id]?.check ?? checkFor(withHost, []) });
    }
  }
  const tally = await replayAll(cases, { seed });
  const notes = Object.entries(DELIBERATE).map(([id, d]) => `deliberate difference ${id}: ${d.why}`);
  finish(t, 'llhttp corpus', tally, seed, { servers: [server], notes });
});
