import { test } from 'node:test';
import assert from 'node:assert/strict';
import { detectProxyHeader, formatIPv6, parseProxyHeader, V1_MAX_LENGTH, type ProxyVerdict } from './proxy-protocol';

const HTTP = Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\n', 'latin1');
const SIG = Buffer.from('\r\n\r\n\0\r\nQUIT\n', 'latin1');

/** gunicorn corpus valid/pp_04: PROXY TCP4 192.168.1.10:12345 → 192.168.1.1:443. */
const V2_TCP4 = Buffer.concat([SIG, Buffer.from([0x21, 0x11, 0x00, 0x0c, 192, 168, 1, 10, 192, 168, 1, 1, 0x30, 0x39, 0x01, 0xbb])]);
/** gunicorn corpus valid/pp_05: PROXY TCP6 [2001:db8::1]:54321 → [2001:db8::2]:80. */
const V2_TCP6 = Buffer.concat([
  SIG,
  Buffer.from([0x21, 0x21, 0x00, 0x24]),
  Buffer.from('20010db8000000000000000000000001', 'hex'),
  Buffer.from('20010db8000000000000000000000002', 'hex'),
  Buffer.from([0xd4, 0x31, 0x00, 0x50]),
]);

function v1(line: string): Buffer {
  return Buffer.from(line, 'latin1');
}

function header(verdict: ProxyVerdict): Extract<ProxyVerdict, { kind: 'header' }> {
  assert.equal(verdict.kind, 'header', JSON.stringify(verdict));
  return verdict as Extract<ProxyVerdict, { kind: 'header' }>;
}

function invalid(buf: Buffer): string {
  const verdict = parseProxyHeader(buf);
  assert.equal(verdict.kind, 'invalid', `${JSON.stringify(buf.toString('latin1'))} → ${JSON.stringify(verdict)}`);
  return (verdict as { reason: string }).reason;
}

/** Feeds every prefix: incomplete until the whole header is in, then the same verdict as whole. */
function byteByByte(buf: Buffer, headerLength: number): void {
  for (let n = 0; n < headerLength; n++) {
    assert.equal(parseProxyHeader(buf.subarray(0, n)).kind, 'incomplete', `prefix of ${n} bytes`);
  }
  for (let n = headerLength; n <= buf.length; n++) {
    assert.deepEqual(parseProxyHeader(buf.subarray(0, n)), parseProxyHeader(buf), `prefix of ${n} bytes`);
  }
}

test('v1 TCP4 and TCP6: the client and the address the proxy was reached at', () => {
  const line = 'PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n';
  const h = header(parseProxyHeader(Buffer.concat([v1(line), HTTP])));
  assert.equal(h.length, line.length);
  assert.deepEqual(h.info, { version: 1, protocol: 'TCP4', sourceAddress: '192.168.0.1', sourcePort: 56324, destinationAddress: '192.168.0.11', destinationPort: 443 });
  const six = header(parseProxyHeader(v1('PROXY TCP6 2001:db8::1 ::ffff:10.0.0.1 1 65535\r\n')));
  assert.deepEqual(six.info, { version: 1, protocol: 'TCP6', sourceAddress: '2001:db8::1', sourcePort: 1, destinationAddress: '::ffff:10.0.0.1', destinationPort: 65535 });
});

test('v1 UNKNOWN names no client; the rest of its line is ignored', () => {
  assert.deepEqual(parseProxyHeader(v1('PROXY UNKNOWN\r\nGET')), { kind: 'header', length: 15, info: null });
  assert.deepEqual(parseProxyHeader(v1('PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n')), { kind: 'header', length: 35, info: null });
});

test('v1 arriving byte by byte is incomplete until its CRLF', () => {
  const line = 'PROXY TCP6 2001:db8::1 2001:db8::2 54321 80\r\n';
  byteByByte(Buffer.concat([v1(line), HTTP]), line.length);
});

test('v1 malformed: the gunicorn corpus cases and the grammar edges', () => {
  assert.match(invalid(v1('PROXY TCP4 192.168.0.1 192.16...\r\n')), /6 fields/); // invalid/pp_01
  assert.match(invalid(v1('PROXY TCP4 192.168.0.1 192.168.0.11 65iii 100000\r\n')), /port/); // invalid/pp_02
  assert.match(invalid(v1('PROXY TCP4 not-an-ip 192.168.0.11 56324 443\r\n')), /address/); // invalid/pp_03
  assert.match(invalid(v1('PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n')), /port/);
  assert.match(invalid(v1('PROXY TCP4 2001:db8::1 5.6.7.8 1 2\r\n')), /address/);
  assert.match(invalid(v1('PROXY TCP6 1.2.3.4 ::1 1 2\r\n')), /address/);
  assert.match(invalid(v1('PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n')), /address/);
  assert.match(invalid(v1('PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n')), /protocol/);
  assert.match(invalid(v1('PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n')), /protocol/);
  assert.match(invalid(v1('PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n')), /6 fields/);
  assert.match(invalid(v1('PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n')), /6 fields/);
  assert.match(invalid(v1('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n')), /byte 0x0a/);
  assert.match(invalid(v1('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX')), /CR not followed by LF/);
  assert.match(invalid(v1('PROXY TCP4 1.2.3.4\x005.6.7.8 1 2\r\n')), /byte 0x00/);
});

test('v1 is at most 107 bytes with its CRLF', () => {
  const fill = (total: number): Buffer => v1('PROXY UNKNOWN ' + 'x'.repeat(total - 16) + '\r\n');
  assert.equal(fill(V1_MAX_LENGTH).length, 107);
  assert.equal(header(parseProxyHeader(fill(107))).length, 107);
  assert.match(invalid(fill(108)), /no CRLF within 107 bytes/);
  // Without a CRLF, 106 bytes are already too many (the CR could only come last).
  assert.equal(parseProxyHeader(v1('PROXY UNKNOWN ' + 'x'.repeat(91))).kind, 'incomplete');
  assert.match(invalid(v1('PROXY UNKNOWN ' + 'x'.repeat(92))), /no CRLF/);
});

test('v2 TCP4 and TCP6 (gunicorn corpus pp_04, pp_05), whole and byte by byte', () => {
  const h4 = header(parseProxyHeader(Buffer.concat([V2_TCP4, HTTP])));
  assert.equal(h4.length, 28);
  assert.deepEqual(h4.info, { version: 2, protocol: 'TCP4', sourceAddress: '192.168.1.10', sourcePort: 12345, destinationAddress: '192.168.1.1', destinationPort: 443 });
  const h6 = header(parseProxyHeader(V2_TCP6));
  assert.equal(h6.length, 52);
  assert.deepEqual(h6.info, { version: 2, protocol: 'TCP6', sourceAddress: '2001:db8::1', sourcePort: 54321, destinationAddress: '2001:db8::2', destinationPort: 80 });
  byteByByte(Buffer.concat([V2_TCP4, HTTP]), 28);
  byteByByte(Buffer.concat([V2_TCP6, HTTP]), 52);
});

test('v2 TLVs after the addresses are skipped', () => {
  const tlv = Buffer.from([0x01, 0x00, 0x02, 0x68, 0x32, 0x04, 0x00, 0x01, 0x00]); // ALPN "h2", NOOP
  const buf = Buffer.from(V2_TCP4);
  buf.writeUInt16BE(12 + tlv.length, 14);
  const h = header(parseProxyHeader(Buffer.concat([buf, tlv, HTTP])));
  assert.equal(h.length, 28 + tlv.length);
  assert.equal(h.info?.sourceAddress, '192.168.1.10');
});

test('v2 LOCAL, UNSPEC, UNIX and DGRAM name no client', () => {
  const make = (verCmd: number, famTrans: number, body: Buffer): Buffer => {
    const fixed = Buffer.from([verCmd, famTrans, 0, 0]);
    fixed.writeUInt16BE(body.length, 2);
    return Buffer.concat([SIG, fixed, body]);
  };
  assert.deepEqual(parseProxyHeader(make(0x20, 0x00, Buffer.alloc(0))), { kind: 'header', length: 16, info: null }); // LOCAL (health check)
  assert.deepEqual(parseProxyHeader(make(0x20, 0x11, Buffer.alloc(12))), { kind: 'header', length: 28, info: null }); // LOCAL ignores addresses
  assert.deepEqual(parseProxyHeader(make(0x21, 0x00, Buffer.alloc(3))), { kind: 'header', length: 19, info: null });
  assert.deepEqual(parseProxyHeader(make(0x21, 0x31, Buffer.alloc(216))), { kind: 'header', length: 232, info: null });
  assert.deepEqual(parseProxyHeader(make(0x21, 0x12, Buffer.alloc(12))), { kind: 'header', length: 28, info: null });
});

test('v2 malformed: version, command, family, short address block', () => {
  const with13 = (b12: number, b13: number, len = 12): Buffer => {
    const b = Buffer.concat([SIG, Buffer.from([b12, b13, 0, len]), Buffer.alloc(len)]);
    return b;
  };
  assert.match(invalid(with13(0x11, 0x11)), /version 1/);
  assert.match(invalid(with13(0x22, 0x11)), /command 2/);
  assert.match(invalid(with13(0x21, 0x41)), /family/);
  assert.match(invalid(with13(0x21, 0x13)), /family/);
  assert.match(invalid(with13(0x21, 0x21, 12)), /12 address bytes, family needs 36/);
  // The length field bounds what is waited for: 65535 more bytes at most.
  const big = Buffer.concat([SIG, Buffer.from([0x21, 0x11, 0xff, 0xff]), Buffer.alloc(100)]);
  assert.equal(parseProxyHeader(big).kind, 'incomplete');
  assert.equal(header(parseProxyHeader(Buffer.concat([big, Buffer.alloc(65535 - 100)]))).length, 16 + 65535);
});

test('detection: HTTP is told apart as soon as a byte differs from both signatures', () => {
  assert.equal(detectProxyHeader(Buffer.alloc(0)), 'incomplete');
  assert.equal(detectProxyHeader(v1('G')), 'none');
  assert.equal(detectProxyHeader(v1('PRO')), 'incomplete');
  assert.equal(detectProxyHeader(v1('PROXY')), 'incomplete');
  assert.equal(detectProxyHeader(v1('PROXY ')), 'v1');
  assert.equal(detectProxyHeader(v1('PROXYZ')), 'none');
  assert.equal(detectProxyHeader(v1('POST / HTTP/1.1')), 'none');
  assert.equal(detectProxyHeader(v1('\r\n\r\n')), 'incomplete');
  assert.equal(detectProxyHeader(v1('\r\nGET / HTTP/1.1')), 'none'); // a leading empty line (RFC 9112 §2.2)
  assert.equal(detectProxyHeader(SIG), 'v2');
  assert.deepEqual(parseProxyHeader(HTTP), { kind: 'none' });
});

test('IPv6 text follows RFC 5952', () => {
  const f = (hex: string): string => formatIPv6(Buffer.from(hex, 'hex'), 0);
  assert.equal(f('00000000000000000000000000000000'), '::');
  assert.equal(f('00000000000000000000000000000001'), '::1');
  assert.equal(f('00010000000000000000000000000000'), '1::');
  assert.equal(f('20010db8000000000001000000000001'), '2001:db8::1:0:0:1'); // the first of two equal runs
  assert.equal(f('20010db8000000010001000100010001'), '2001:db8:0:1:1:1:1:1'); // one zero group stays
  assert.equal(f('20010db8aaaabbbbccccddddeeeeffff'), '2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff');
  assert.equal(f('00000000000000000000ffffc0a80001'), '::ffff:192.168.0.1');
});
