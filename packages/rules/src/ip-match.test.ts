import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileIpList, parseCidr, parseIp } from './ip-match.ts';

describe('parseCidr', () => {
  const good: [string, number][] = [
    ['192.0.2.1', 128],
    ['198.51.100.0/24', 120],
    ['0.0.0.0/0', 96],
    ['10.0.0.0/32', 128],
    ['2001:db8::/32', 32],
    ['::/0', 0],
    ['::1', 128],
    ['::ffff:192.0.2.1', 128],
    ['::ffff:192.0.2.0/120', 120],
    ['2001:DB8::1/128', 128],
  ];
  for (const [text, prefix] of good) {
    it(`accepts ${text}`, () => {
      const cidr = parseCidr(text);
      assert.notEqual(typeof cidr, 'string');
      assert.equal((cidr as { prefix: number }).prefix, prefix);
    });
  }
  const bad: [string, RegExp][] = [
    ['192.0.2.1/33', /prefix must be 0 to 32/],
    ['2001:db8::/129', /prefix must be 0 to 128/],
    ['192.0.2.1/', /prefix/],
    ['192.0.2.1/-1', /prefix/],
    ['192.0.2.1/2x', /prefix/],
    ['192.0.2.256', /not an IPv4 or IPv6 address/],
    ['01.2.3.4', /not an IPv4/],
    ['1::2::3', /not an IPv4/],
    ['example.com', /not an IPv4/],
    ['fe80::1%eth0', /zone index/],
    ['192.0.2.0/24/8', /prefix/],
  ];
  for (const [text, message] of bad) {
    it(`refuses ${text}`, () => {
      const cidr = parseCidr(text);
      assert.equal(typeof cidr, 'string');
      assert.match(cidr as string, message);
    });
  }
  it('masks host bits instead of refusing them', () => {
    assert.deepEqual(parseCidr('192.0.2.77/24'), parseCidr('192.0.2.0/24'));
  });
});

describe('parseIp', () => {
  it('maps IPv4 and IPv4-mapped IPv6 to the same number', () => {
    assert.equal(parseIp('192.0.2.1'), parseIp('::ffff:192.0.2.1'));
    assert.equal(parseIp('192.0.2.1'), parseIp('::ffff:c000:201'));
    assert.equal(parseIp('192.0.2.1'), parseIp('0:0:0:0:0:FFFF:192.0.2.1'));
  });
  it('expands :: in every position', () => {
    assert.equal(parseIp('::'), 0n);
    assert.equal(parseIp('::1'), 1n);
    assert.equal(parseIp('1::'), 1n << 112n);
    assert.equal(parseIp('1:0:0:0:0:0:0:2'), parseIp('1::2'));
  });
  it('drops a zone index and refuses garbage', () => {
    assert.equal(parseIp('fe80::1%eth0'), parseIp('fe80::1'));
    assert.equal(parseIp('not-an-ip'), undefined);
    assert.equal(parseIp(''), undefined);
  });
});

describe('compileIpList', () => {
  const match = compileIpList(['198.51.100.0/24', '192.0.2.7', '2001:db8::/32', '::ffff:203.0.113.0/120', '198.51.100.128/25']);
  const cases: [string, string | undefined][] = [
    ['198.51.100.0', '198.51.100.0/24'],
    ['198.51.100.127', '198.51.100.0/24'],
    ['198.51.100.128', '198.51.100.128/25'],
    ['198.51.101.0', undefined],
    ['198.51.99.255', undefined],
    ['192.0.2.7', '192.0.2.7'],
    ['192.0.2.8', undefined],
    ['::ffff:192.0.2.7', '192.0.2.7'],
    ['::ffff:198.51.100.9', '198.51.100.0/24'],
    ['203.0.113.44', '::ffff:203.0.113.0/120'],
    ['2001:db8:ffff::1', '2001:db8::/32'],
    ['2001:db9::1', undefined],
    ['garbage', undefined],
  ];
  for (const [ip, expected] of cases) {
    it(`${ip} → ${expected ?? 'no match'}`, () => assert.equal(match(ip), expected));
  }
  it('0.0.0.0/0 matches every IPv4 address but no native IPv6 one', () => {
    const all4 = compileIpList(['0.0.0.0/0']);
    assert.equal(all4('255.255.255.255'), '0.0.0.0/0');
    assert.equal(all4('::ffff:1.2.3.4'), '0.0.0.0/0');
    assert.equal(all4('2001:db8::1'), undefined);
  });
  it('::/0 matches everything', () => {
    const all = compileIpList(['::/0']);
    assert.equal(all('1.2.3.4'), '::/0');
    assert.equal(all('2001:db8::1'), '::/0');
  });
  it('an empty list matches nothing', () => assert.equal(compileIpList([])('1.2.3.4'), undefined));
});
