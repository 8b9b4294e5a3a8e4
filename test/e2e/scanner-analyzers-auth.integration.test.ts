import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { dkimSign, sealMessage } from 'mailauth';
import { startDownstream, type Downstream } from '../helpers/downstream.ts';
import { BASE_RULES, startTestScanner, type ScannerUnderTest } from '../helpers/scanner-harness.ts';
import { message, sendViaProxy } from '../helpers/smtp-client.ts';
import { waitUntil } from '../helpers/wait.ts';
import { DNSMASQ_SKIP, startDnsmasq, type Dnsmasq } from '../helpers/dnsmasq.ts';
import { createDnsResolver } from '../../apps/scanner/src/analyzers/dns-resolver.ts';

// Documentation addresses: 192.0.2.10 is good.test's one mail server, 203.0.113.66 a stranger
// that bl.test lists, 198.51.100.20 a client nobody lists.
const GOOD_MX = '192.0.2.10';
const STRANGER = '203.0.113.66';
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const DKIM_KEY = `v=DKIM1; k=rsa; p=${publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`;

const RECORDS = {
  txt: {
    'good.test': `v=spf1 ip4:${GOOD_MX} -all`,
    'sel._domainkey.good.test': DKIM_KEY,
    '_dmarc.good.test': 'v=DMARC1; p=reject',
    'soft.test': 'v=spf1 ~all',
    '_dmarc.soft.test': 'v=DMARC1; p=quarantine',
    // ARC: the forwarder's sealing key.
    'arc._domainkey.forwarder.test': DKIM_KEY,
    // DMARC organisational domain by Tree Walk: a policy at shop.test only.
    'mail.shop.test': `v=spf1 ip4:${GOOD_MX} -all`,
    '_dmarc.shop.test': 'v=DMARC1; p=reject; sp=quarantine',
    // A public-suffix-like domain (a PSD record, psd=y): its subdomains are separate organisations.
    'bob.blogs.test': `v=spf1 ip4:${GOOD_MX} -all`,
    '_dmarc.blogs.test': 'v=DMARC1; p=reject; psd=y',
  },
  a: { '66.113.0.203.bl.test': '127.0.0.2', '66.113.0.203.other.test': '127.0.0.9' },
};

/** One message through a trusted PROXY v1 header, so the scanner sees `clientIp`. */
const sendAs = (port: number, clientIp: string, from: string, raw: string) => sendViaProxy(port, clientIp, { from, to: 'user@example.test' }, raw);

async function signed(raw: string): Promise<string> {
  const r = await dkimSign(raw, {
    canonicalization: 'relaxed/relaxed',
    signatureData: [{ signingDomain: 'good.test', selector: 'sel', privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string }],
  } as unknown as Parameters<typeof dkimSign>[1]);
  assert.equal(r.errors.length, 0, JSON.stringify(r.errors));
  assert.match(r.signatures, /^DKIM-Signature:/); // (mailauth's typings describe the older flat options)
  return r.signatures + raw;
}

function logged(node: ScannerUnderTest, response: string) {
  const id = /queued as (\S+)/.exec(response)![1]!;
  return node.scanner.db.prepare('SELECT status, score, reasons FROM messages WHERE id = ?').get(id) as { status: string; score: number; reasons: string };
}

describe('sender authentication and DNSBL against a dnsmasq on loopback', { skip: DNSMASQ_SKIP }, () => {
  let dns: Dnsmasq;
  let downstream: Downstream;
  let node: ScannerUnderTest;
  before(async () => {
    dns = await startDnsmasq(RECORDS);
    downstream = await startDownstream();
    node = await startTestScanner(downstream.port, {
      rules: BASE_RULES,
      overrides: {
        smtp: { listen: { host: '127.0.0.1', port: 0 }, hostname: 'scanner.test', trustedProxies: ['127.0.0.1'] },
        analyzers: {
          dns: { servers: [dns.server], timeoutMs: 500, tries: 1 },
          auth: { timeoutSeconds: 5 },
          dnsbl: { zones: [{ zone: 'bl.test', weight: 6, codes: { '127.0.0.2': { label: 'spam source' } } }, { zone: 'other.test', weight: 1, codes: { '127.0.0.2': { label: 'x' } } }] },
        },
      },
    });
  });
  after(async () => {
    await node?.close();
    await downstream?.close();
    await dns?.stop();
  });

  test('SPF, DKIM and DMARC pass: delivered with Authentication-Results naming our host; the results are reasons', async () => {
    const raw = await signed(message({ from: 'alice@good.test', subject: 'all pass' }));
    const reply = await sendAs(node.port, GOOD_MX, 'alice@good.test', raw);
    assert.match(reply, /^250 /);
    await downstream.waitFor(1);
    const got = downstream.received.find((m) => m.raw.includes('all pass'))!.raw.toString();
    const ar = /^Authentication-Results: scanner\.test;[\s\S]*?\r\n(?=\S)/m.exec(got)?.[0] ?? '';
    assert.match(ar, /spf=pass/);
    assert.match(ar, /smtp\.mailfrom=(alice@)?good\.test/);
    assert.match(ar, /dkim=pass/);
    assert.match(ar, /header\.d=good\.test/);
    assert.match(ar, /dmarc=pass/);
    assert.ok(got.indexOf('Authentication-Results:') < got.indexOf('Received: from'), 'above our Received header');
    const row = logged(node, reply);
    assert.equal(row.status, 'queued');
    assert.match(row.reasons, /"rule":"auth\.spf","match":"pass good\.test"/);
    assert.match(row.reasons, /"rule":"auth\.dmarc","match":"pass good\.test"/);
    assert.doesNotMatch(row.reasons, /dnsbl/);
  });

  test('received Authentication-Results claiming our authserv-id are renamed before ours is added; others pass unchanged', async () => {
    const forged = ['Authentication-Results: scanner.test;', '\tspf=pass smtp.mailfrom=ceo@good.test;', '\tdkim=pass header.d=good.test; dmarc=pass header.from=good.test'];
    const raw = message({ from: 'ceo@nowhere.test', subject: 'forged results', headers: [...forged, 'Authentication-Results: (c) SCANNER.test 1; dmarc=pass', 'Authentication-Results: mx.other.test; spf=pass'] });
    assert.match(await sendAs(node.port, '198.51.100.20', 'nobody@nowhere.test', raw), /^250 /);
    await waitUntil(() => downstream.received.some((m) => m.raw.includes('forged results')), 'delivery');
    const got = downstream.received.find((m) => m.raw.includes('forged results'))!.raw.toString();
    const ours = got.match(/^Authentication-Results: scanner\.test;/gim) ?? [];
    assert.equal(ours.length, 1, 'only the one we added claims our id');
    assert.ok(got.indexOf('Authentication-Results: scanner.test;') < got.indexOf('Received: from'), 'ours is added above our Received header');
    assert.match(got, /^X-Moat-Untrusted-Authentication-Results: scanner\.test;\r\n\tspf=pass smtp\.mailfrom=ceo@good\.test;\r\n\tdkim=pass header\.d=good\.test; dmarc=pass/m, 'renamed, folding kept');
    assert.match(got, /^X-Moat-Untrusted-Authentication-Results: \(c\) SCANNER\.test 1; dmarc=pass\r\n/m, 'comments and case do not hide it');
    assert.match(got, /^Authentication-Results: mx\.other\.test; spf=pass\r\n/m, 'another authserv-id is left alone');
  });

  test('a forged good.test sender from a listed stranger: SPF fail and DMARC p=reject failure quarantine it, the DNSBL adds its weight', async () => {
    const reply = await sendAs(node.port, STRANGER, 'alice@good.test', message({ from: 'alice@good.test', subject: 'forged' }));
    assert.match(reply, /^250 /, 'quarantine is silent');
    const row = logged(node, reply);
    assert.equal(row.status, 'quarantined');
    assert.match(row.reasons, /"rule":"auth\.spf","match":"fail good\.test","score":3/);
    assert.match(row.reasons, /"rule":"auth\.dmarc","match":"fail good\.test p=reject","score":2,"action":"quarantine"/);
    assert.match(row.reasons, /"rule":"dnsbl\.bl\.test","match":"127\.0\.0\.2 spam source","score":6/);
    assert.doesNotMatch(row.reasons, /other\.test/, 'a return code the zone does not list is ignored');
    assert.equal(row.score, 11);
  });

  test('DKIM passes but SPF fails (forwarded mail): DMARC passes, only the SPF score counts', async () => {
    const raw = await signed(message({ from: 'alice@good.test', subject: 'forwarded' }));
    const reply = await sendAs(node.port, '198.51.100.20', 'alice@good.test', raw);
    assert.match(reply, /^250 /);
    const row = logged(node, reply);
    assert.equal(row.status, 'queued');
    assert.equal(row.score, 3);
    assert.match(row.reasons, /"rule":"auth\.dkim","match":"pass good\.test"/);
    assert.match(row.reasons, /"rule":"auth\.dmarc","match":"pass good\.test"/);
  });

  test('SPF softfail with DMARC p=quarantine: tagged, the reasons in X-Moat-Reasons', async () => {
    const reply = await sendAs(node.port, '198.51.100.20', 'bob@soft.test', message({ from: 'bob@soft.test', subject: 'soft' }));
    assert.match(reply, /^250 /);
    await waitUntil(() => downstream.received.some((m) => /^Subject: .*soft/m.test(m.raw.toString())), 'the tagged message downstream');
    const got = downstream.received.find((m) => /^Subject: .*soft/m.test(m.raw.toString()))!.raw.toString();
    assert.match(got, /^X-Moat-Verdict: tag/m);
    assert.match(got, /^X-Moat-Reasons: .*analyzer:auth\.dmarc/m);
    assert.match(got, /spf=softfail/);
  });

  test('ARC: a forwarder\'s valid seal verifies (arc=pass) though the change it made broke DKIM; a seal broken after sealing fails', async () => {
    const original = await signed(message({ from: 'alice@good.test', subject: 'via the list' }));
    const modified = original.replace('Subject: via the list', 'Subject: [list] via the list');
    const seal = await sealMessage(Buffer.from(modified), {
      signingDomain: 'forwarder.test',
      selector: 'arc',
      privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
      authResults: 'forwarder.test; dkim=pass header.d=good.test; spf=pass smtp.mailfrom=good.test; dmarc=pass header.from=good.test',
      cv: 'none',
    } as unknown as Parameters<typeof sealMessage>[1]);
    assert.match(seal.toString(), /^ARC-Seal: i=1;/m);
    const sealed = seal.toString() + modified;
    const ok = logged(node, await sendAs(node.port, '198.51.100.20', 'list-bounce@forwarder.test', sealed));
    assert.match(ok.reasons, /"rule":"auth\.arc","match":"pass forwarder\.test"/, "the sealer is named");
    assert.match(ok.reasons, /"rule":"auth\.dkim","match":"fail good\.test"/, 'the list\'s change broke DKIM');
    const tampered = logged(node, await sendAs(node.port, '198.51.100.20', 'list-bounce@forwarder.test', sealed.replace('Hello there.', 'Hello there, changed after sealing.')));
    assert.match(tampered.reasons, /"rule":"auth\.arc","match":"fail[^"]*","score":1/, "a broken chain scores arcFail");
  });

  test('DMARC organisational domain: a subdomain without a record takes its parent\'s policy (sp=) and aligns with a sibling; a PSD record (psd=y) keeps its subdomains apart', async () => {
    // news.shop.test has no record: the Tree Walk finds shop.test's; mail.shop.test's SPF pass aligns (relaxed).
    const aligned = logged(node, await sendAs(node.port, GOOD_MX, 'bounce@mail.shop.test', message({ from: 'alice@news.shop.test', subject: 'org domain' })));
    assert.match(aligned.reasons, /"rule":"auth\.spf","match":"pass mail\.shop\.test"/);
    assert.match(aligned.reasons, /"rule":"auth\.dmarc","match":"pass /);
    // From a stranger: DMARC fails and the subdomain policy (sp=quarantine) applies, not p=reject.
    const failed = logged(node, await sendAs(node.port, '198.51.100.20', 'bounce@mail.shop.test', message({ from: 'alice@news.shop.test', subject: 'org domain, stranger' })));
    assert.match(failed.reasons, /"rule":"auth\.dmarc","match":"fail [^"]* p=quarantine"/);
    assert.equal(failed.status, 'queued', 'p=quarantine tags (authentication.dmarcQuarantine) rather than quarantining');
    // blogs.test publishes psd=y: alice.blogs.test and bob.blogs.test are different organisations,
    // so bob's SPF pass does not align for alice (a "last two labels" guess would say it does).
    const psd = logged(node, await sendAs(node.port, GOOD_MX, 'x@bob.blogs.test', message({ from: 'alice@alice.blogs.test', subject: 'psd' })));
    assert.match(psd.reasons, /"rule":"auth\.spf","match":"pass bob\.blogs\.test"/);
    assert.match(psd.reasons, /"rule":"auth\.dmarc","match":"fail [^"]* p=reject"/);
    assert.equal(psd.status, 'quarantined');
  });

  test('the resolver caches answers and NXDOMAIN, and a dead server is a quick error, never a hang', async () => {
    const local = await startDnsmasq({ txt: { 'cached.test': 'v=spf1 -all' } });
    const resolve = createDnsResolver({ servers: [local.server], timeoutMs: 200, tries: 1, cacheSeconds: 60, negativeCacheSeconds: 60, cacheEntries: 100 });
    assert.deepEqual(await resolve('cached.test', 'TXT'), [['v=spf1 -all']]);
    await assert.rejects(resolve('missing.test', 'TXT'), { code: 'ENOTFOUND' });
    await local.stop();
    assert.deepEqual(await resolve('CACHED.test', 'TXT'), [['v=spf1 -all']], 'served from the cache, case-insensitively');
    await assert.rejects(resolve('missing.test', 'TXT'), { code: 'ENOTFOUND' }, 'NXDOMAIN is cached too');
    const started = Date.now();
    await assert.rejects(resolve('uncached.test', 'TXT'), (e: NodeJS.ErrnoException) => e.code !== 'ENOTFOUND');
    assert.ok(Date.now() - started < 3000);
  });
});
