// aws/http-desync-guardian's request-smuggling classification, replayed black-box:
//   Severe     -> refused (400, or 413 for a 2^64 Content-Length), then the connection closes;
//   Ambiguous  -> refused, or answered and the connection closed: a request sent behind it on
//                 the same connection is never answered;
//   Compliant, Acceptable -> served (2xx), except where the table below says why not.
// Every case runs whole, byte by byte and in random splits. See ../shared/corpus/README.md §5.
import { test } from 'node:test';
import { CORPUS_SKIP, addHost, b64, finish, loadCorpus, rejected, replayAll, runSeed, startEcho, statusList } from './corpus/harness.mjs';

const manifest = loadCorpus('http-desync-guardian/manifest.json', { cases: [] });
const seed = runSeed();

/** Sent behind Severe and Ambiguous messages: it must never be answered. */
const PROBE = Buffer.from('GET /smuggled HTTP/1.1\r\nHost: localhost\r\n\r\n');

/**
 * Compliant or Acceptable messages nodicorn refuses on purpose (the corpus calls them safe from
 * desync, not mandatory to serve), by reason; each refusal is one of `status`.
 */
const REFUSED = [
  {
    why: 'a coding before chunked gets 501 (RFC 9112 §6.1): the app would get still-encoded bytes',
    status: [501],
    ids: ['more-compliant-tests.yaml#5', 'more-compliant-tests.yaml#7', 'more-compliant-tests.yaml#8', 'rfc-compliant.yaml#8', 'rfc-compliant.yaml#9'],
  },
  {
    why: '"chunked;param" does not end in plain chunked: 400 (RFC 9112 §6.3)',
    status: [400],
    ids: ['more-compliant-tests.yaml#9', 'rfc-compliant.yaml#10'],
  },
  {
    why: 'whitespace between a field name and its colon: 400 (RFC 9112 §5.1 MUST)',
    status: [400],
    ids: ['acceptable.yaml#0', 'acceptable.yaml#1', 'acceptable.yaml#3'],
  },
  {
    why: 'a control character in a field name (not a token, RFC 9110 §5.1) or value (invalid, RFC 9110 §5.5): llhttp refuses',
    status: [400],
    ids: ['acceptable.yaml#2', 'bad-header-characters.yaml#11', 'bad-header-characters.yaml#12', 'bad-header-characters.yaml#13', 'bad-header-characters.yaml#14'],
  },
  {
    why: 'HTTP/0.9, no version, HTTP/1.2: llhttp speaks HTTP/1.0 and 1.1 only (400)',
    status: [400, 505],
    ids: ['acceptable.yaml#6', 'acceptable.yaml#7', 'acceptable.yaml#8'],
  },
  {
    why: 'a request line with an empty target, raw UTF-8 or spaces in the target, or a space after the version: llhttp refuses (RFC 9112 §3)',
    status: [400],
    ids: ['rfc-compliant.yaml#12', 'rfc-compliant.yaml#13', 'uri-specific-test-cases.yaml#1', 'uri-specific-test-cases.yaml#3'],
  },
];
const refusedBy = new Map(REFUSED.flatMap((r) => r.ids.map((id) => [id, r])));

/** Body bytes for a Compliant/Acceptable case (the manifest's suggestion). */
function bodyOf(c) {
  const s = c.suggested_body ?? { kind: 'none' };
  if (s.kind === 'fill') return Buffer.alloc(s.length, s.byte);
  if (s.kind === 'chunked_empty') return Buffer.from(s.bytes, 'latin1');
  return Buffer.alloc(0);
}

/**
 * Body bytes for a Severe/Ambiguous case, as a server that accepted the head would frame it:
 * the declared length (when small and plainly a number) or an empty chunked body.
 */
function ambiguousBody(head) {
  const text = head.toString('latin1');
  const cl = /\r\ncontent-length:[ \t]*(\d{1,5})[ \t]*\r\n/i.exec(text);
  if (cl) return Buffer.alloc(Number(cl[1]), 'x');
  if (/transfer-encoding/i.test(text)) return Buffer.from('0\r\n\r\n');
  return Buffer.alloc(0);
}

function served(result) {
  if (result.error) return result.error;
  const first = result.responses[0];
  if (!first) return `no response (${result.closed ? 'closed' : result.timedOut ? 'timed out' : '?'})`;
  if (first.status < 200 || first.status >= 300) return `status ${statusList(result)}, want 2xx`;
  if (first.get('x-wsgi-validate')) return `wsgiref.validate: ${first.body?.toString('utf8').slice(0, 200)}`;
  return null;
}

/** Answered then closed, never answering what came behind: or refused. */
function notReused(result) {
  const statuses = result.responses.map((r) => r.status);
  if (statuses[0] !== undefined && statuses[0] < 300) {
    if (result.error) return result.error;
    if (statuses.length > 1) return `the connection was reused after an ambiguous request (${statuses})`;
    return result.closed ? null : 'answered, but the connection stayed open';
  }
  return rejected(result);
}

function caseFor(c, port) {
  let head = b64(c.raw_head_b64);
  if (!c.has_host) head = addHost(head);
  const base = { id: c.id, group: c.tier, port };
  switch (c.tier) {
    case 'Severe': {
      // 413 only for the length past 2^64, per the corpus.
      const accept = c.name.includes('overflow') ? [400, 413] : [400];
      return { ...base, raw: Buffer.concat([head, ambiguousBody(head), PROBE]), options: { probeClose: 2_000 }, check: (r) => rejected(r, accept) };
    }
    case 'Ambiguous':
      return { ...base, raw: Buffer.concat([head, ambiguousBody(head), PROBE]), options: { probeClose: 2_000, heads: [c.method === 'HEAD'] }, check: notReused };
    default: {
      const refusal = refusedBy.get(c.id);
      const check = refusal ? (r) => rejected(r, refusal.status) : served;
      const body = bodyOf(c);
      // The 4 MB case comes back twice base64-encoded from the echo app: give it time on a busy box.
      const timeout = 10_000 + Math.ceil(body.length / 100_000) * 1_000;
      return { ...base, raw: Buffer.concat([head, body]), options: { heads: [c.method === 'HEAD'], timeout }, check };
    }
  }
}

test('http-desync-guardian corpus', { skip: CORPUS_SKIP }, async (t) => {
  // Threads, so the one 4 MB case does not hold up the small ones behind it.
  const server = await startEcho(['--threads', '4']);
  t.after(() => server.kill());
  // single-case.yaml repeats an Ambiguous case of ambiguous.yaml.
  const cases = manifest.cases.filter((c) => !c.duplicate_of_single_case).map((c) => caseFor(c, server.port));
  const tally = await replayAll(cases, { seed });
  const notes = REFUSED.map((r) => `deliberate difference (${r.ids.length} cases refused ${r.status.join('/')}): ${r.why}`);
  finish(t, 'desync-guardian corpus', tally, seed, { servers: [server], notes });
});
