import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ResolveFn } from '../analyzers/dns-resolver.ts';
import { receivedHeader } from '../pipeline/delivery-headers.ts';
import { confirmedHostname } from './client-hostname.ts';

/** A zone as a table ("TYPE name" → records): what the resolver answers, NXDOMAIN otherwise. The end-to-end test asks a real dnsmasq. */
function zone(records: Record<string, string[]>, asked: string[] = []): ResolveFn {
  return async (name, type) => {
    asked.push(`${type} ${name}`);
    const found = records[`${type} ${name}`];
    if (!found) throw Object.assign(new Error(`query${type} ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
    return found;
  };
}

describe('confirmedHostname', () => {
  it('keeps the PTR name whose A record is the client, lower-cased, without the final dot', async () => {
    const resolve = zone({ 'PTR 21.100.51.198.in-addr.arpa': ['Mail.Client.TEST.'], 'A mail.client.test': ['198.51.100.9', '198.51.100.21'] });
    assert.equal(await confirmedHostname('198.51.100.21', resolve), 'mail.client.test');
  });

  it('takes the first PTR name that points back when there are several', async () => {
    const resolve = zone({ 'PTR 21.100.51.198.in-addr.arpa': ['liar.test', 'real.test'], 'A liar.test': ['192.0.2.1'], 'A real.test': ['198.51.100.21'] });
    assert.equal(await confirmedHostname('198.51.100.21', resolve), 'real.test');
  });

  it('gives none for a PTR that does not point back, no PTR, or a DNS failure', async () => {
    assert.equal(await confirmedHostname('198.51.100.22', zone({ 'PTR 22.100.51.198.in-addr.arpa': ['bank.test'], 'A bank.test': ['192.0.2.1'] })), undefined);
    assert.equal(await confirmedHostname('198.51.100.22', zone({ 'PTR 22.100.51.198.in-addr.arpa': ['bank.test'] })), undefined);
    assert.equal(await confirmedHostname('198.51.100.23', zone({})), undefined);
    const failing: ResolveFn = async () => {
      throw Object.assign(new Error('queryPtr ETIMEOUT'), { code: 'ETIMEOUT' });
    };
    assert.equal(await confirmedHostname('198.51.100.23', failing), undefined);
  });

  it('compares IPv6 addresses however they are written', async () => {
    const ptr = `${'0000000000000021'.split('').reverse().join('.')}.${'20010db800000000'.split('').reverse().join('.')}.ip6.arpa`;
    const resolve = zone({ [`PTR ${ptr}`]: ['v6.client.test'], 'AAAA v6.client.test': ['2001:0db8:0000:0000:0000:0000:0000:0021'] });
    assert.equal(await confirmedHostname('2001:db8::21', resolve), 'v6.client.test');
  });

  it('does not look up loopback clients, and ignores names unfit for a Received line or past the tenth', async () => {
    const asked: string[] = [];
    assert.equal(await confirmedHostname('127.0.0.2', zone({}, asked)), undefined);
    assert.equal(await confirmedHostname('::1', zone({}, asked)), undefined);
    assert.equal(asked.length, 0, asked.join(', '));
    const many = Array.from({ length: 12 }, (_, i) => `n${i}.test`);
    const resolve = zone({ 'PTR 21.100.51.198.in-addr.arpa': ['bad name) [1.2.3.4]', '198.51.100.21', ...many], 'A n10.test': ['198.51.100.21'], 'A bad name) [1.2.3.4]': ['198.51.100.21'], 'A 198.51.100.21': ['198.51.100.21'] }, asked);
    assert.equal(await confirmedHostname('198.51.100.21', resolve), undefined);
    assert.equal(asked.filter((q) => q.startsWith('A ')).length, 10);
  });
});

describe('receivedHeader', () => {
  const at = Date.UTC(2026, 11, 6, 12, 0, 0);
  it('names the client as Postfix does: the verified name before the address, or the address alone', () => {
    assert.match(receivedHeader({ helo: 'mx.client.test', clientIp: '198.51.100.21', clientHostname: 'mail.client.test', hostname: 'scanner.test', tls: true, at }), /^Received: from mx\.client\.test \(mail\.client\.test \[198\.51\.100\.21\]\)\r\n\tby scanner\.test \(Moat\) with ESMTPS;/);
    assert.match(receivedHeader({ helo: 'mx.client.test', clientIp: '198.51.100.21', hostname: 'scanner.test', tls: false, at }), /^Received: from mx\.client\.test \(\[198\.51\.100\.21\]\)\r\n\tby scanner\.test \(Moat\) with ESMTP;/);
  });
});
