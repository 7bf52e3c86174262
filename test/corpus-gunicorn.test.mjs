// gunicorn's request corpus (tests/requests/{valid,invalid}), replayed black-box against the echo
// app: valid cases must give the expected environ and body, invalid ones a 4xx (or a close) and
// never a 2xx. Every case runs whole, byte by byte and in random splits. See
// ../shared/corpus/README.md §1 and test/corpus/harness.mjs.
import { test } from 'node:test';
import { CORPUS_SKIP, addHost, answered, b64, finish, loadCorpus, rejected, replayAll, runSeed, startEcho } from './corpus/harness.mjs';

const manifest = loadCorpus('gunicorn-requests/manifest.json', { cases: [] });

/** What the PROXY header in each valid PROXY case says the client's address is. */
const PROXY_REMOTE_ADDR = {
  'valid/pp_01': '192.168.0.1',
  'valid/pp_02': '192.168.0.1',
  'valid/pp_04': '192.168.1.10',
  'valid/pp_05': '2001:db8::1',
};

/** gunicorn settings the corpus turns on, as nodicorn flags. */
const OPTIONS = {
  limit_request_line: { flags: (v) => ['--limit-request-line', String(v)] },
  limit_request_fields: { flags: (v) => ['--limit-request-fields', String(v)] },
  // gunicorn's 0 silently means its default 8190 (the hidden cap); nodicorn's 0 is unlimited and
  // its default already is 8190, which is what the case (limit_header_default_01) tests.
  limit_request_field_size: { flags: (v) => (v === 0 ? [] : ['--limit-request-field-size', String(v)]) },
  proxy_protocol: { flags: () => ['--proxy-protocol'] },
  forwarded_allow_ips: { flags: (v) => ['--forwarded-allow-ips', String(v)] },
};

const byId = new Map(manifest.cases.map((c) => [c.id, c]));
/** Served with the case's environ and body, some environ keys changed. */
const servedWith = (id, change) => (result) => {
  const c = byId.get(id);
  const expected = c.requests.map((r) => ({ environ: { ...r.environ, ...change }, body: b64(r.body_b64) }));
  return answered(result, expected, { expectClose: c.expect_close });
};
const refused = (...statuses) => (result) => rejected(result, statuses);

/**
 * Where nodicorn answers differently from the corpus on purpose: the case still runs (without
 * the gunicorn option nodicorn does not offer) and must give what `check` says. One line of why.
 */
const DELIBERATE = {
  'valid/028': { check: refused(400), why: 'no strip_header_spaces: "Content-Length : 3" is refused (RFC 9112 §5.1 says 400; it is a smuggling vector)' },
  'valid/031compat': { check: refused(400), why: 'no permit_unconventional_http_method: llhttp knows registered methods only; the case allows 400' },
  'valid/031compat2': { check: refused(400), why: 'as valid/031compat' },
  'valid/040_compat': { check: refused(400), why: 'no header_map=dangerous: a name that looks like Content-Length or Transfer-Encoding (Content_Length) is refused' },
  'invalid/040': { why: 'no header_map option: framing lookalikes are always refused (as refuse does), other names with "_" dropped (as drop does)' },
  'invalid/chunked_07': { why: 'as invalid/040 (Transfer_Encoding)' },
  'valid/compat_obs_fold': { check: refused(400), why: 'obs-fold is refused (RFC 9112 §5.2 allows 400; llhttp cannot unfold), so no permit_obsolete_folding' },
  'valid/compat_obs_fold_huge': { check: refused(400), why: 'as valid/compat_obs_fold' },
  'invalid/013': { why: 'runs without permit_obsolete_folding (see valid/compat_obs_fold): refused either way' },
  'valid/013+Host': { check: refused(400), why: 'llhttp refuses whitespace around ";" in a chunk extension (RFC 9112 §7.1.1 allows BWS there): inherited from node:http' },
  'valid/rfc9112_target_asterisk_options_01': { check: servedWith('valid/rfc9112_target_asterisk_options_01', { PATH_INFO: '' }), why: 'OPTIONS * has PATH_INFO "" not "*" (PEP 3333: empty or starting with "/"; wsgiref.validate)' },
};

const seed = runSeed();

/** The nodicorn flags a case needs. */
function flagsFor(c) {
  const flags = [];
  for (const [key, value] of Object.entries(c.gunicorn_cfg)) {
    const option = OPTIONS[key];
    if (!option) {
      if (!DELIBERATE[c.id]) throw new Error(`${c.id} needs gunicorn's ${key}, which nodicorn lacks, and DELIBERATE does not say why`);
      continue;
    }
    flags.push(...option.flags(value));
  }
  return { flags };
}

const expectedOf = (c) =>
  c.requests.map((r) => ({ environ: PROXY_REMOTE_ADDR[c.id] ? { ...r.environ, REMOTE_ADDR: PROXY_REMOTE_ADDR[c.id] } : r.environ, body: b64(r.body_b64) }));
const checkValid = (c) => (result) => answered(result, expectedOf(c), { alt: c.alt_status, expectClose: c.expect_close });
const checkInvalid = (c) => (result) => rejected(result, c.accept_status);

/** The manifest's alt_status, by the tag that allows it (README §1), for the +Host replays. */
const ALT_BY_TAG = {
  te_identity: [400, 501], te_gzip: [400, 501], fragment_in_target: [400], asterisk_form: [400, 405, 501],
  authority_form: [400, 405, 501], userinfo_in_target: [400], non_ascii_target: [400],
  unregistered_method: [400, 501], limits: [400, 414, 431], underscore_header: [400],
};

test('gunicorn request corpus', { skip: CORPUS_SKIP }, async (t) => {
  const groups = new Map(); // flags key -> { flags, cases }
  for (const c of manifest.cases) {
    const need = flagsFor(c);
    const key = need.flags.join(' ');
    if (!groups.has(key)) groups.set(key, { flags: need.flags, cases: [] });
    groups.get(key).cases.push(c);
  }

  // One server per configuration, started together.
  const servers = await Promise.all([...groups.values()].map((g) => startEcho(g.flags)));
  t.after(() => Promise.all(servers.map((s) => s.kill())));

  const cases = [];
  [...groups.values()].forEach((g, i) => {
    for (const c of g.cases) {
      const raw = b64(c.raw_blackbox_b64 ?? c.raw_b64);
      const valid = c.kind === 'valid';
      const heads = valid ? c.requests.map((r) => r.method === 'HEAD') : [];
      cases.push({
        id: c.id,
        group: c.kind,
        raw,
        port: servers[i].port,
        options: {
          expect: valid ? c.expect_responses : 1,
          heads,
          halfClose: !!c.needs_half_close,
          probeClose: !valid || c.expect_close ? 2_000 : 0,
        },
        check: DELIBERATE[c.id]?.check ?? (valid ? checkValid(c) : checkInvalid(c)),
      });
      // HTTP/1.1 without Host gets 400 (RFC 9112 §3.2), which hides the environ: replay such a
      // message once more with a Host line, so what it carries is checked too.
      if (valid && c.tags.includes('http11_no_host') && c.requests.length === 1 && !DELIBERATE[c.id]) {
        const alt_status = [...new Set(c.tags.flatMap((tag) => ALT_BY_TAG[tag] ?? []))];
        const withHost = { ...c, alt_status, requests: [{ ...c.requests[0], environ: { ...c.requests[0].environ, HTTP_HOST: 'localhost' } }] };
        const id = `${c.id}+Host`;
        cases.push({ ...cases[cases.length - 1], id, group: 'valid+Host', raw: addHost(raw), check: DELIBERATE[id]?.check ?? checkValid(withHost) });
      }
    }
  });

  const tally = await replayAll(cases, { seed });
  const notes = [];
  for (const [id, d] of Object.entries(DELIBERATE)) notes.push(`deliberate difference ${id}: ${d.why}`);
  finish(t, 'gunicorn corpus', tally, seed, { servers, notes });
});
