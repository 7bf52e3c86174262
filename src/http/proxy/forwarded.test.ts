import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpError } from '../../errors';
import { ProxyTrust, parseForwarded, parseNode, type Client } from './forwarded';
import type { Origin } from './origin';
import type { ProxyInfo } from './proxy-protocol';

const DEFAULT_SCHEME_HEADERS = { 'X-FORWARDED-PROTOCOL': 'ssl', 'X-FORWARDED-PROTO': 'https', 'X-FORWARDED-SSL': 'on' };

function trust(ips: string[] = ['127.0.0.1', '::1', '10.0.0.0/8'], schemeHeaders: Record<string, string> = DEFAULT_SCHEME_HEADERS): ProxyTrust {
  return new ProxyTrust({ forwardedAllowIps: ips, secureSchemeHeaders: schemeHeaders });
}

function tcp(address: string, port = 40000, proxy: ProxyInfo | null = null): Origin {
  return { local: false, address, port, proxy };
}

const UNIX: Origin = { local: true, address: '', port: undefined, proxy: null };

function resolve(t: ProxyTrust, origin: Origin, headers: Array<[string, string]>, scheme: 'http' | 'https' = 'http'): Client {
  const result = t.resolve(origin, headers.flat(), scheme);
  assert.ok(!(result instanceof HttpError), `unexpected ${String(result)}`);
  return result as Client;
}

test('an untrusted peer changes nothing, whatever it sends', () => {
  const c = resolve(trust(['10.0.0.0/8']), tcp('127.0.0.1'), [
    ['X-Forwarded-For', '1.2.3.4'],
    ['X-Forwarded-Proto', 'https'],
    ['Forwarded', 'for=5.6.7.8;proto=https'],
  ]);
  assert.deepEqual(c, { remoteAddr: '127.0.0.1', remotePort: '40000', scheme: 'http', proxy: null, forwarded: null });
});

test('X-Forwarded-For is walked from the right, skipping trusted proxies', () => {
  const t = trust();
  // nginx on 127.0.0.1 appended the address it saw (10.1.1.1, an internal balancer), which appended the client's.
  const c = resolve(t, tcp('127.0.0.1'), [['X-Forwarded-For', '6.6.6.6, 203.0.113.7, 10.1.1.1']]);
  assert.equal(c.remoteAddr, '203.0.113.7'); // not the client's own claim 6.6.6.6
  assert.equal(c.remotePort, ''); // unknown, not the proxy's port
  // Several fields are one list, in order (RFC 9110 §5.3).
  assert.equal(resolve(t, tcp('127.0.0.1'), [['X-Forwarded-For', '6.6.6.6'], ['X-Forwarded-For', '203.0.113.7, 10.1.1.1']]).remoteAddr, '203.0.113.7');
  // Every hop trusted: the leftmost is the client.
  assert.equal(resolve(t, tcp('127.0.0.1'), [['X-Forwarded-For', '10.9.9.9, 10.1.1.1']]).remoteAddr, '10.9.9.9');
  // "*" trusts every hop.
  assert.equal(resolve(trust(['*']), tcp('198.51.100.1'), [['X-Forwarded-For', '6.6.6.6, 203.0.113.7']]).remoteAddr, '6.6.6.6');
});

test('X-Forwarded-For entries that are no address end the walk at the last good hop', () => {
  const t = trust();
  assert.equal(resolve(t, tcp('127.0.0.1'), [['X-Forwarded-For', 'unknown']]).remoteAddr, '127.0.0.1');
  assert.equal(resolve(t, tcp('127.0.0.1'), [['X-Forwarded-For', '203.0.113.7, garbage']]).remoteAddr, '127.0.0.1');
  assert.equal(resolve(t, tcp('127.0.0.1'), [['X-Forwarded-For', 'garbage, 10.1.1.1']]).remoteAddr, '10.1.1.1');
  assert.equal(resolve(t, tcp('127.0.0.1'), [['X-Forwarded-For', '']]).remoteAddr, '127.0.0.1');
});

test('X-Forwarded-For node forms: port, bare and bracketed IPv6', () => {
  const t = trust();
  const cases: Array<[string, string, string]> = [
    ['203.0.113.7:4711', '203.0.113.7', '4711'],
    ['2001:db8::17', '2001:db8::17', ''],
    ['[2001:db8::17]', '2001:db8::17', ''],
    ['[2001:db8::17]:4711', '2001:db8::17', '4711'],
    [' 203.0.113.7 ', '203.0.113.7', ''],
  ];
  for (const [xff, addr, port] of cases) {
    const c = resolve(t, tcp('::1'), [['X-Forwarded-For', xff]]);
    assert.deepEqual([c.remoteAddr, c.remotePort], [addr, port], xff);
  }
  assert.deepEqual(parseNode('[2001:db8::1'), { address: null });
  assert.deepEqual(parseNode('[2001:db8::1]x'), { address: null });
  assert.deepEqual(parseNode('1.2.3.4:_obf'), { address: '1.2.3.4' });
});

test('Forwarded (RFC 7239): quoted IPv6 with a port, several elements, proto', () => {
  const t = trust();
  const c = resolve(t, tcp('127.0.0.1'), [['Forwarded', 'for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https;by=10.1.1.1, for=10.1.1.1;proto=http']]);
  assert.deepEqual([c.remoteAddr, c.remotePort, c.scheme], ['2001:db8:cafe::17', '4711', 'https']);
  const quoted = resolve(t, tcp('127.0.0.1'), [['Forwarded', 'For="192.0.2.43:47011";Proto=HTTPS']]);
  assert.deepEqual([quoted.remoteAddr, quoted.remotePort, quoted.scheme], ['192.0.2.43', '47011', 'https']);
  // proto alone (no for=) still says the scheme; the address stays the peer's.
  const protoOnly = resolve(t, tcp('127.0.0.1'), [['Forwarded', 'proto=https']]);
  assert.deepEqual([protoOnly.remoteAddr, protoOnly.scheme], ['127.0.0.1', 'https']);
  // for=unknown and obfuscated identifiers stop the walk.
  assert.equal(resolve(t, tcp('127.0.0.1'), [['Forwarded', 'for=unknown']]).remoteAddr, '127.0.0.1');
  assert.equal(resolve(t, tcp('127.0.0.1'), [['Forwarded', 'for=203.0.113.7, for=_hidden']]).remoteAddr, '127.0.0.1');
});

test('Forwarded is not read when X-Forwarded-For is there (nginx appends X-Forwarded-For, passes Forwarded on)', () => {
  const c = resolve(trust(), tcp('127.0.0.1'), [
    ['Forwarded', 'for=6.6.6.6;proto=https'],
    ['X-Forwarded-For', '203.0.113.7'],
  ]);
  assert.deepEqual([c.remoteAddr, c.scheme], ['203.0.113.7', 'http']);
});

test('a Forwarded header that does not parse is ignored whole', () => {
  for (const bad of ['for=1.2.3.4 for=5.6.7.8', 'for="1.2.3.4', 'for', '=1.2.3.4', 'for=1.2.3.4;;x', 'for=1.2.3.4;proto=https extra']) {
    assert.equal(parseForwarded(bad), null, bad);
    const c = resolve(trust(), tcp('127.0.0.1'), [['Forwarded', bad]]);
    assert.deepEqual([c.remoteAddr, c.scheme], ['127.0.0.1', 'http'], bad);
  }
  assert.deepEqual(parseForwarded('for="\\"q\\"";proto=http , for=1.2.3.4'), [{ address: null, proto: 'http' }, { address: '1.2.3.4' }]);
});

test('secure scheme headers from a trusted peer set wsgi.url_scheme, either way', () => {
  const t = trust();
  const at = tcp('127.0.0.1');
  assert.equal(resolve(t, at, [['X-Forwarded-Proto', 'https']]).scheme, 'https');
  assert.equal(resolve(t, at, [['x-forwarded-proto', 'HTTPS ']]).scheme, 'https');
  assert.equal(resolve(t, at, [['X-Forwarded-Ssl', 'on']]).scheme, 'https');
  assert.equal(resolve(t, at, [['X-Forwarded-Protocol', 'ssl']]).scheme, 'https');
  assert.equal(resolve(t, at, [['X-Forwarded-Proto', 'http']], 'https').scheme, 'http');
  assert.equal(resolve(t, at, [['X-Forwarded-Proto', 'https'], ['X-Forwarded-Ssl', 'on']]).scheme, 'https');
  assert.equal(resolve(t, at, []).scheme, 'http');
  assert.equal(resolve(t, at, [], 'https').scheme, 'https');
  // Configured headers only.
  const custom = trust(['127.0.0.1'], { 'X-SCHEME': 'secure' });
  assert.equal(resolve(custom, at, [['X-Forwarded-Proto', 'https']]).scheme, 'http');
  assert.equal(resolve(custom, at, [['X-Scheme', 'secure']]).scheme, 'https');
  assert.equal(resolve(trust(['127.0.0.1'], {}), at, [['X-Forwarded-Proto', 'https']]).scheme, 'http');
});

test('contradictory scheme headers are an error (gunicorn: 400 "Contradictory scheme headers")', () => {
  const t = trust();
  const at = tcp('127.0.0.1');
  for (const headers of [
    [['X-Forwarded-Proto', 'https'], ['X-Forwarded-Ssl', 'off']], // gunicorn corpus invalid/019
    [['X-Forwarded-Proto', 'https'], ['X-Forwarded-Proto', 'http']],
    [['X-Forwarded-Proto', 'http'], ['Forwarded', 'proto=https']],
  ] as Array<Array<[string, string]>>) {
    const result = t.resolve(at, headers.flat(), 'http');
    assert.ok(result instanceof HttpError, JSON.stringify(headers));
    assert.equal(result.status, 400);
    assert.equal(result.message, 'Contradictory scheme headers');
  }
  // From an untrusted peer they are not read, so they cannot contradict.
  assert.equal(resolve(trust(['10.0.0.0/8']), at, [['X-Forwarded-Proto', 'https'], ['X-Forwarded-Ssl', 'off']]).scheme, 'http');
});

test('a PROXY header stands for the proxy hop: trust is judged on the client it names', () => {
  const info: ProxyInfo = { version: 1, protocol: 'TCP4', sourceAddress: '203.0.113.7', sourcePort: 5555, destinationAddress: '10.0.0.5', destinationPort: 443 };
  // HAProxy on 127.0.0.1 (trusted) forwards a client that sends its own X-Forwarded-For.
  const c = resolve(trust(), tcp('127.0.0.1', 40000, info), [['X-Forwarded-For', '6.6.6.6'], ['X-Forwarded-Proto', 'https']]);
  assert.deepEqual(c, { remoteAddr: '203.0.113.7', remotePort: '5555', scheme: 'http', proxy: info, forwarded: null });
  // A PROXY-named client that is itself a trusted proxy (HAProxy in front of nginx) is read through.
  const inner: ProxyInfo = { ...info, sourceAddress: '10.1.1.1' };
  const d = resolve(trust(), tcp('127.0.0.1', 40000, inner), [['X-Forwarded-For', '198.51.100.2'], ['X-Forwarded-Proto', 'https']]);
  assert.deepEqual([d.remoteAddr, d.scheme], ['198.51.100.2', 'https']);
});

test('UNIX-socket peers are trusted, as in gunicorn', () => {
  const c = resolve(trust([]), UNIX, [['X-Forwarded-For', '203.0.113.7'], ['X-Forwarded-Proto', 'https']]);
  assert.deepEqual(c, { remoteAddr: '203.0.113.7', remotePort: '', scheme: 'https', proxy: null, forwarded: null });
  assert.deepEqual(resolve(trust([]), UNIX, []), { remoteAddr: '', remotePort: '', scheme: 'http', proxy: null, forwarded: null });
});

test('a connection already gone (no address) is not trusted', () => {
  const c = resolve(trust(), { local: false, address: '', port: undefined, proxy: null }, [['X-Forwarded-For', '203.0.113.7']]);
  assert.equal(c.remoteAddr, '');
});

test('--forwarder-headers: a trusted peer sets the listed environ names; anyone else sets nothing', () => {
  const t = new ProxyTrust({ forwardedAllowIps: ['10.0.0.0/8'], secureSchemeHeaders: DEFAULT_SCHEME_HEADERS, forwarderHeaders: ['SCRIPT_NAME', 'PATH_INFO', 'REMOTE_USER'] });
  const headers: Array<[string, string]> = [['SCRIPT_NAME', ' /app '], ['remote_user', 'ann'], ['SCRIPT_NAME', '/other'], ['X_OTHER', 'x']];
  assert.deepEqual(resolve(t, tcp('10.1.2.3'), headers).forwarded, { SCRIPT_NAME: '/app', REMOTE_USER: 'ann' }, 'the first of each, names matched case-insensitively');
  assert.equal(resolve(t, tcp('192.0.2.9'), headers).forwarded, null, 'an untrusted peer');
  assert.equal(resolve(t, tcp('10.1.2.3'), [['Host', 'a']]).forwarded, null, 'none sent');
  assert.equal(resolve(trust(), tcp('127.0.0.1'), headers).forwarded, null, 'no --forwarder-headers');
});
