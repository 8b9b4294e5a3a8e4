import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createDnsResolver, type DnsSettings } from './dns-resolver.ts';
import { startTestDnsServer } from './dns/test-dns-server.ts';

const soa = (ttl: number, minimum: number) => ({
  type: 'SOA' as const, name: 'test', ttl,
  data: { mname: 'ns.test', rname: 'admin.test', serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum },
});
const txt = (name: string, ttl: number, value: string) => ({ type: 'TXT' as const, name, ttl, data: [value] });

const dns = await startTestDnsServer({
  'TXT short.test': { answers: [txt('short.test', 30, 'v=spf1 -all')] },
  'TXT long.test': { answers: [txt('long.test', 86_400, 'v=spf1 ~all')] },
  'TXT zero.test': { answers: [txt('zero.test', 0, 'x')] },
  'TXT split.test': { answers: [{ type: 'TXT', name: 'split.test', ttl: 50, data: ['v=DKIM1; k=rsa; ', 'p=AAAA'] }, txt('split.test', 40, 'second')] },
  'A www.alias.test': { answers: [{ type: 'CNAME', name: 'www.alias.test', ttl: 10, data: 'host.alias.test' }, { type: 'A', name: 'host.alias.test', ttl: 100, data: '192.0.2.1' }] },
  'MX mx.test': { answers: [{ type: 'MX', name: 'mx.test', ttl: 60, data: { preference: 10, exchange: 'mail.mx.test' } }] },
  'TXT gone.test': { rcode: 'NXDOMAIN', authorities: [soa(600, 20)] },
  'TXT gone-long.test': { rcode: 'NXDOMAIN', authorities: [soa(86_400, 86_400)] },
  'TXT nodata.test': { rcode: 'NOERROR', authorities: [soa(600, 45)] },
  'TXT broken.test': { rcode: 'SERVFAIL' },
  'TXT silent.test': { drop: true },
  'TXT big.test': { truncate: true, answers: [txt('big.test', 60, 'x'.repeat(200)), txt('big.test', 60, 'y'.repeat(200))] },
  'A spoofed.test': { spoofFirst: true, answers: [{ type: 'A', name: 'spoofed.test', ttl: 60, data: '192.0.2.7' }] },
});
after(() => dns.close());

const SETTINGS: DnsSettings = { servers: [dns.server], timeoutMs: 300, tries: 1, cacheSeconds: 3600, negativeCacheSeconds: 300, cacheEntries: 1000 };

function clock() {
  let t = 1_700_000_000_000;
  return { now: () => t, advance: (s: number) => (t += s * 1000) };
}
const asked = (key: string) => dns.queries.get(key) ?? 0;

test('an answer is cached for its TTL, then asked again', async () => {
  const c = clock();
  const resolve = createDnsResolver(SETTINGS, c.now);
  assert.deepEqual(await resolve('short.test', 'TXT'), [['v=spf1 -all']]);
  c.advance(29.9);
  assert.deepEqual(await resolve('SHORT.test.', 'txt'), [['v=spf1 -all']], 'case, trailing dot and type case do not matter');
  assert.equal(asked('TXT short.test'), 1);
  c.advance(0.1);
  await resolve('short.test', 'TXT');
  assert.equal(asked('TXT short.test'), 2, 'expired exactly at the TTL');
});

test('a long TTL is capped at cacheSeconds; a TTL of 0 is never cached', async () => {
  const c = clock();
  const resolve = createDnsResolver({ ...SETTINGS, cacheSeconds: 60 }, c.now);
  await resolve('long.test', 'TXT');
  c.advance(59);
  await resolve('long.test', 'TXT');
  assert.equal(asked('TXT long.test'), 1);
  c.advance(1);
  await resolve('long.test', 'TXT');
  assert.equal(asked('TXT long.test'), 2);
  await resolve('zero.test', 'TXT');
  await resolve('zero.test', 'TXT');
  assert.equal(asked('TXT zero.test'), 2);
});

test('the smallest TTL of the records used counts, CNAMEs included; shapes are node\'s', async () => {
  const c = clock();
  const resolve = createDnsResolver(SETTINGS, c.now);
  assert.deepEqual(await resolve('split.test', 'TXT'), [['v=DKIM1; k=rsa; ', 'p=AAAA'], ['second']]);
  assert.deepEqual(await resolve('www.alias.test', 'A'), ['192.0.2.1']);
  assert.deepEqual(await resolve('mx.test', 'MX'), [{ exchange: 'mail.mx.test', priority: 10 }]);
  c.advance(10);
  await resolve('www.alias.test', 'A');
  await resolve('split.test', 'TXT');
  assert.equal(asked('A www.alias.test'), 2, 'the CNAME\'s 10 s, not the A record\'s 100 s');
  assert.equal(asked('TXT split.test'), 1);
  c.advance(30);
  await resolve('split.test', 'TXT');
  assert.equal(asked('TXT split.test'), 2, 'the 40 s record, not the 50 s one');
});

test('NXDOMAIN and NODATA: cached for the SOA\'s negative TTL (the smaller of its TTL and MINIMUM), capped; no SOA: negativeCacheSeconds', async () => {
  const c = clock();
  const resolve = createDnsResolver({ ...SETTINGS, negativeCacheSeconds: 100 }, c.now);
  await assert.rejects(resolve('gone.test', 'TXT'), { code: 'ENOTFOUND' });
  await assert.rejects(resolve('nodata.test', 'TXT'), { code: 'ENODATA' });
  await assert.rejects(resolve('gone-long.test', 'TXT'), { code: 'ENOTFOUND' });
  await assert.rejects(resolve('unknown.test', 'TXT'), { code: 'ENOTFOUND' });
  c.advance(19);
  await assert.rejects(resolve('gone.test', 'TXT'), { code: 'ENOTFOUND' });
  assert.equal(asked('TXT gone.test'), 1);
  c.advance(1);
  await assert.rejects(resolve('gone.test', 'TXT'), { code: 'ENOTFOUND' });
  assert.equal(asked('TXT gone.test'), 2, 'SOA minimum 20 s');
  c.advance(25);
  await assert.rejects(resolve('nodata.test', 'TXT'), { code: 'ENODATA' });
  assert.equal(asked('TXT nodata.test'), 2, 'SOA minimum 45 s');
  c.advance(54);
  await assert.rejects(resolve('gone-long.test', 'TXT'));
  await assert.rejects(resolve('unknown.test', 'TXT'));
  assert.equal(asked('TXT gone-long.test'), 1, 'within the 100 s cap');
  assert.equal(asked('TXT unknown.test'), 1, 'no SOA: negativeCacheSeconds');
  c.advance(1);
  await assert.rejects(resolve('gone-long.test', 'TXT'));
  await assert.rejects(resolve('unknown.test', 'TXT'));
  assert.equal(asked('TXT gone-long.test'), 2);
  assert.equal(asked('TXT unknown.test'), 2);
});

test('SERVFAIL and time-outs are never cached; the next server is tried; concurrent look-ups share one query', async () => {
  const c = clock();
  const resolve = createDnsResolver(SETTINGS, c.now);
  await assert.rejects(resolve('broken.test', 'TXT'), { code: 'ESERVFAIL' });
  await assert.rejects(resolve('broken.test', 'TXT'), { code: 'ESERVFAIL' });
  assert.equal(asked('TXT broken.test'), 2);
  await assert.rejects(resolve('silent.test', 'TXT'), { code: 'ETIMEOUT' });
  // A dead first server (nothing listens on its port): the second answers.
  const fallback = createDnsResolver({ ...SETTINGS, servers: ['127.0.0.1:9', dns.server] }, c.now);
  assert.deepEqual(await fallback('short.test', 'TXT'), [['v=spf1 -all']]);
  const before = asked('TXT long.test');
  const both = await Promise.all([resolve('long.test', 'TXT'), resolve('long.test', 'TXT'), resolve('Long.Test', 'TXT')]);
  assert.equal(both.length, 3);
  assert.equal(asked('TXT long.test'), before + 1);
});

test('a truncated UDP answer is asked again over TCP; an answer with the wrong id is ignored', async () => {
  const resolve = createDnsResolver(SETTINGS);
  const big = (await resolve('big.test', 'TXT')) as string[][];
  assert.equal(big.length, 2);
  assert.equal(asked('TXT big.test'), 2, 'once over UDP (truncated), once over TCP');
  assert.deepEqual(await resolve('spoofed.test', 'A'), ['192.0.2.7']);
});
