// defparam/smuggler's Transfer-Encoding gadgets (1703 unique header lines), replayed black-box.
// No gadget may be read as chunked unless it is exactly a valid "Transfer-Encoding: chunked"
// field. Two probes per gadget:
//   CL: gadget + Content-Length N + a body that a chunked reader would end early, smuggling a
//       second request. Pass: refused, or one 200 echoing all N body bytes read by length, and
//       /smuggled never answered. A valid chunked gadget beside Content-Length must be refused.
//   TE: gadget alone + "0\r\n\r\n" + a second request. A valid chunked gadget: both served
//       (the body read as chunked, then the pipelined request). Any other: never read as chunked.
// Every probe runs whole, byte by byte and in random splits. See ../shared/corpus/README.md §6.
import { test } from 'node:test';
import { CORPUS_SKIP, b64, echoOf, finish, loadCorpus, rejected, replayAll, runSeed, startEcho, statusList } from './corpus/harness.mjs';

const gadgets = loadCorpus('smuggler-gadgets/gadgets.json', { configs: {} });
const seed = runSeed();

const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n';
/** Ends every probe: once it is answered (or the message refused) the server closes, so a probe
 * never waits on a timer to learn that nothing more is coming. */
const LAST = Buffer.from('GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
const CL_BODY = Buffer.from(`0\r\n\r\n${SMUGGLED}`);

/** Unique gadgets across the three configs, first name wins. */
function uniqueGadgets() {
  const seen = new Map();
  for (const list of Object.values(gadgets.configs)) {
    for (const g of list) {
      const bytes = b64(g.gadget_b64);
      const key = bytes.toString('latin1');
      if (!seen.has(key)) seen.set(key, { name: g.name, bytes });
    }
  }
  return [...seen.values()];
}

/**
 * Valid chunked gadgets nodicorn refuses on purpose (in the TE probe), by gadget bytes, with why.
 * A refusal is never a misread: the message is answered 4xx and the connection closed.
 */
const DELIBERATE = {
  'Transfer-Encoding: chunked\t': 'llhttp does not trim a tab after "chunked" and refuses the message (400): inherited, safe',
  'Transfer-Encoding:\tchunked\t': 'as "Transfer-Encoding: chunked\\t"',
};

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Whether the gadget is header lines of which exactly one is Transfer-Encoding with the value
 * chunked (RFC 9110 §5: token name, colon, OWS, a value of visible chars and SP/HTAB, CRLF).
 */
function isValidChunked(bytes) {
  const lines = bytes.toString('latin1').split('\r\n');
  let te = 0;
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) return false;
    const name = line.slice(0, colon);
    const value = line.slice(colon + 1);
    if (!TOKEN.test(name) || /[\x00-\x08\x0a-\x1f\x7f-\xff]/.test(value)) return false;
    if (name.toLowerCase() === 'transfer-encoding') {
      if (value.replace(/^[ \t]+|[ \t]+$/g, '').toLowerCase() !== 'chunked') return false;
      te++;
    }
  }
  return te === 1;
}

const head = (g, extra) => Buffer.concat([Buffer.from('POST /?cb=1 HTTP/1.1\r\n'), g.bytes, Buffer.from(`\r\nHost: localhost\r\n${extra}\r\n`)]);

const echoes = (result) =>
  result.responses.filter((r) => r.status === 200 && !r.get('x-wsgi-validate')).map(echoOf).filter((e) => e.environ.PATH_INFO !== '/last');
const smuggledAnswered = (result) => echoes(result).some((e) => e.environ.PATH_INFO === '/smuggled');

function clProbe(g, valid) {
  const start = head(g, `Content-Length: ${CL_BODY.length}\r\n`);
  const raw = Buffer.concat([start, CL_BODY, LAST]);
  const check = (result) => {
    if (valid) return rejected(result);
    const first = result.responses[0];
    if (!first || first.status >= 300) return rejected(result);
    if (first.status !== 200) return `status ${statusList(result)}`;
    const echo = echoOf(first);
    if (echo.wsgi.input_terminated) return 'read as chunked';
    if (!Buffer.from(echo.body_b64, 'base64').equals(CL_BODY)) return 'body not read by its Content-Length';
    if (smuggledAnswered(result)) return '/smuggled was answered';
    return null;
  };
  return { raw, check, headLength: start.length };
}

function teProbe(g, valid) {
  const start = head(g, '');
  const raw = Buffer.concat([start, Buffer.from(`0\r\n\r\n${SMUGGLED}`), LAST]);
  const check = (result) => {
    if (result.error) return result.error;
    const seen = echoes(result);
    if (valid) {
      if (seen.length !== 2 || !seen[0].wsgi.input_terminated || seen[1].environ.PATH_INFO !== '/smuggled') {
        return `a valid chunked request and the one behind it: want both served, got ${statusList(result)}`;
      }
      return null;
    }
    if (seen.some((e) => e.wsgi.input_terminated)) return 'read as chunked';
    if (smuggledAnswered(result)) return '/smuggled was answered';
    return null;
  };
  // Byte by byte up to and including the chunk-size line, where a misread would start.
  return { raw, check, headLength: start.length + 3 };
}

test('smuggler Transfer-Encoding gadgets', { skip: CORPUS_SKIP }, async (t) => {
  const server = await startEcho();
  t.after(() => server.kill());
  const cases = [];
  let valid = 0;
  for (const g of uniqueGadgets()) {
    const isValid = isValidChunked(g.bytes);
    if (isValid) valid++;
    const refusedOnPurpose = DELIBERATE[g.bytes.toString('latin1')];
    for (const [kind, probe] of [['CL', clProbe(g, isValid)], ['TE', teProbe(g, isValid)]]) {
      if (kind === 'TE' && refusedOnPurpose) probe.check = (result) => rejected(result, [400]);
      cases.push({
        id: `${g.name} ${JSON.stringify(g.bytes.toString('latin1'))}`,
        group: kind,
        raw: probe.raw,
        port: server.port,
        // Read until the server closes (after /last, or after a refusal). Bytewise covers the
        // head, where the gadget is; the pipelined requests behind it go in one write.
        options: { expect: 5, bytewiseLimit: probe.headLength },
        check: probe.check,
      });
    }
  }
  const tally = await replayAll(cases, { seed, concurrency: 12 });
  const notes = [`smuggler gadgets: ${cases.length / 2} unique, ${valid} of them a valid "Transfer-Encoding: chunked"`];
  for (const [gadget, why] of Object.entries(DELIBERATE)) notes.push(`deliberate difference ${JSON.stringify(gadget)}: ${why}`);
  finish(t, 'smuggler gadgets', tally, seed, { servers: [server], notes });
});
