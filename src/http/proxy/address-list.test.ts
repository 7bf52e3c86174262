import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AddressList, parseAddressRule } from './address-list';

test('addresses and CIDR networks, IPv4 and IPv6', () => {
  const list = new AddressList(['127.0.0.1', '10.0.0.0/8', '192.168.1.128/25', '::1', 'fd00::/8', '[2001:db8::7]']);
  for (const yes of ['127.0.0.1', '10.0.0.1', '10.255.255.255', '192.168.1.128', '192.168.1.255', '::1', 'fd12:3456::1', '2001:db8::7']) {
    assert.ok(list.has(yes), yes);
  }
  for (const no of ['127.0.0.2', '11.0.0.1', '192.168.1.127', '::2', 'fe80::1', '2001:db8::8', '', 'localhost', 'garbage']) {
    assert.ok(!list.has(no), no);
  }
});

test('IPv4-mapped IPv6 peers (a dual-stack socket) match IPv4 rules, and the reverse', () => {
  const v4 = new AddressList(['127.0.0.1', '10.0.0.0/8']);
  assert.ok(v4.has('::ffff:127.0.0.1'));
  assert.ok(v4.has('::ffff:10.20.30.40'));
  assert.ok(v4.has('::ffff:a14:1e28')); // the same, in hex
  assert.ok(!v4.has('::ffff:11.0.0.1'));
  const mapped = new AddressList(['::ffff:192.168.0.0/120']);
  assert.ok(mapped.has('192.168.0.9'));
  assert.ok(!mapped.has('192.168.1.9'));
});

test('a zone index on a link-local peer is ignored', () => {
  assert.ok(new AddressList(['fe80::/10']).has('fe80::1%eth0'));
});

test('"*" trusts any peer; an empty list none', () => {
  const any = new AddressList(['*']);
  assert.ok(any.has('203.0.113.9'));
  assert.ok(any.has('2001:db8::1'));
  assert.ok(!new AddressList([]).has('127.0.0.1'));
});

test('items that are no address or network are refused', () => {
  for (const bad of ['localhost', '10.0.0.0/33', '::1/129', '10.0.0.0/', '10.0.0.0/8/8', '1.2.3', '10.0.0.0/-1', '10.0.0.0/08x']) {
    assert.equal(parseAddressRule(bad), null, bad);
    assert.throws(() => new AddressList([bad]), /not an IP address or network/, bad);
  }
  assert.deepEqual(parseAddressRule(' 10.1.0.0/16 '), { address: '10.1.0.0', prefix: 16, family: 'ipv4' });
  assert.deepEqual(parseAddressRule('::1'), { address: '::1', prefix: 128, family: 'ipv6' });
});
