import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { validateRules } from '@moat/rules';
import { freePort, startSlapd, type Slapd } from '@moat/engines';
import { startDownstream, type Downstream } from '../helpers/downstream.ts';
import { apiClient, startClusterScanner, startTestMaster, type ApiClient } from '../helpers/cluster-harness.ts';
import { BASE_RULES } from '../helpers/scanner-harness.ts';
import { RawSmtp, message, sendMail } from '../helpers/smtp-client.ts';
import { engineSkip } from '../helpers/engines.ts';
import { waitUntil } from '../helpers/wait.ts';
import { selfSignedCert } from '../helpers/tls-cert.ts';

/**
 * Recipient verification at RCPT TO (issue 19), end to end over real sockets: a master, two
 * scanners, a static list and an LDAP directory (a real slapd) in the master's verification
 * store, and call-outs to a real SMTP server started here, which counts the probes it gets.
 */

const MAILBOXES = new Set(['user@example.test', 'alice@example.test']);

/** The domain's "own mail server" for call-outs: knows `mailboxes`, accepts everything at all.test, counts MAIL FROM:<> sessions. */
async function startMailServer(mailboxes: ReadonlySet<string> = MAILBOXES): Promise<{ port: number; probes: () => number; close(): Promise<void> }> {
  let probes = 0;
  const server = new SMTPServer({
    authOptional: true, disabledCommands: ['AUTH', 'STARTTLS'], disableReverseLookup: true, logger: false,
    onMailFrom(address, _s, cb) {
      if (address.address === '') probes++;
      cb();
    },
    onRcptTo(address, _s, cb) {
      const a = address.address.toLowerCase();
      if (mailboxes.has(a) || a.endsWith('@all.test')) return cb();
      cb(Object.assign(new Error('5.1.1 User unknown'), { responseCode: 550 }));
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = ((server as unknown as { server: { address(): AddressInfo } }).server.address()).port;
  return { port, probes: () => probes, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** One RCPT TO from a client address of its own (the harvest counter is per address). */
async function rcpt(port: number, to: string, localAddress = '127.0.0.1'): Promise<string> {
  const s = await RawSmtp.open(port, { localAddress });
  try {
    await s.reply();
    await s.command('EHLO client.test');
    await s.command('MAIL FROM:<sender@origin.test>');
    return await s.command(`RCPT TO:<${to}>`);
  } finally {
    s.close();
  }
}

let mailServer: Awaited<ReturnType<typeof startMailServer>>;
let downstream: Downstream;
let master: Awaited<ReturnType<typeof startTestMaster>>;
let a: Awaited<ReturnType<typeof startClusterScanner>>;
let b: Awaited<ReturnType<typeof startClusterScanner>>;
let api: ApiClient;
let deadPort: number;
/** The own servers of one.test and two.test, each routed there (routing.domains), probed without a call-out target. */
let oneServer: Awaited<ReturnType<typeof startMailServer>>;
let twoServer: Awaited<ReturnType<typeof startMailServer>>;

before(async () => {
  mailServer = await startMailServer();
  oneServer = await startMailServer(new Set(['user@one.test', 'user@pinned.test']));
  twoServer = await startMailServer(new Set(['user@two.test']));
  downstream = await startDownstream();
  deadPort = await freePort(); // nothing listens there
  const rules = validateRules({
    ...BASE_RULES,
    acceptedDomains: ['static.test', 'example.test', 'all.test', 'ldap.test', 'down.test', 'dead.test', 'plain.test', 'one.test', 'two.test', 'pinned.test', 'ldaps.test', 'starttls.test', 'wrongca.test', 'wrongca-starttls.test'],
    routing: {
      domains: [
        { domain: 'one.test', hosts: [{ host: '127.0.0.1', priority: 10, port: oneServer.port }, { host: '127.0.0.1', priority: 20, port: twoServer.port }], tls: 'none' },
        { domain: 'two.test', hosts: [{ host: '127.0.0.1', priority: 5 }], port: twoServer.port, tls: 'none' },
        { domain: 'pinned.test', hosts: [{ host: '127.0.0.1', priority: 10 }], port: twoServer.port, tls: 'none' },
      ],
    },
    recipientVerification: {
      domains: [
        { domain: 'static.test', source: 'static' },
        { domain: 'example.test', source: 'callout', callout: { host: '127.0.0.1', port: mailServer.port } },
        { domain: 'all.test', source: 'callout', callout: { host: '127.0.0.1', port: mailServer.port } },
        { domain: 'ldap.test', source: 'ldap', store: 'corp' },
        { domain: 'down.test', source: 'ldap', store: 'down' },
        { domain: 'ldaps.test', source: 'ldap', store: 'tls-ldaps' },
        { domain: 'starttls.test', source: 'ldap', store: 'tls-starttls' },
        { domain: 'wrongca.test', source: 'ldap', store: 'tls-wrongca' },
        { domain: 'wrongca-starttls.test', source: 'ldap', store: 'tls-wrongca-starttls' },
        { domain: 'dead.test', source: 'callout', callout: { host: '127.0.0.1', port: deadPort } },
        { domain: 'one.test', source: 'callout' },
        { domain: 'two.test', source: 'callout' },
        // An explicit target wins over the route: pinned.test's mail goes to twoServer, its probes to oneServer.
        { domain: 'pinned.test', source: 'callout', callout: { host: '127.0.0.1', port: oneServer.port } },
      ],
      lookupTimeoutMs: 3000,
      harvest: { maxUnknown: 3, windowSeconds: 600, action: 'disconnect' },
    },
  });
  master = await startTestMaster({ seed: rules });
  a = await startClusterScanner('verify-a', master.wsUrl, downstream.port);
  b = await startClusterScanner('verify-b', master.wsUrl, downstream.port);
  await waitUntil(() => a.link?.isConnected && b.link?.isConnected, 'both scanners linked');
  api = await apiClient(master.url);
  const put = await api.put('/api/v1/verification/sources/static.test', { kind: 'static', entries: ['alice@static.test', 'Bob@Static.test', 'sales-*@static.test'] });
  assert.equal(put.status, 200, put.text);
  const down = await api.put('/api/v1/verification/sources/down', { kind: 'ldap', url: `ldap://127.0.0.1:${deadPort}`, baseDn: 'dc=example,dc=test', bindDn: 'cn=admin,dc=example,dc=test', bindPassword: 'sekrit-down' });
  assert.equal(down.status, 200, down.text);
  // Both scanners have the store once a known address passes on each.
  await waitUntil(async () => (await rcpt(a.smtpPort, 'alice@static.test', '127.0.0.50')).startsWith('250') && (await rcpt(b.smtpPort, 'alice@static.test', '127.0.0.50')).startsWith('250'), 'the store reached both scanners');
});

after(async () => {
  await a?.close();
  await b?.close();
  await master?.close();
  await downstream?.close();
  await mailServer?.close();
  await oneServer?.close();
  await twoServer?.close();
});

test('static list: known addresses, patterns and +tags pass; an unknown user gets 550 5.1.1 at RCPT; the store is kept 0600', async () => {
  const ip = '127.0.0.11';
  assert.match(await rcpt(a.smtpPort, 'ALICE@static.test', ip), /^250/);
  assert.match(await rcpt(a.smtpPort, 'alice+newsletter@static.test', ip), /^250/);
  assert.match(await rcpt(a.smtpPort, 'bob@static.test', ip), /^250/);
  assert.match(await rcpt(a.smtpPort, 'sales-emea@static.test', ip), /^250/);
  assert.equal(await rcpt(a.smtpPort, 'nobody@static.test', ip), '550 5.1.1 <nobody@static.test>: Recipient address rejected: User unknown');
  assert.match(await rcpt(a.smtpPort, 'someone@plain.test', ip), /^250/, 'a domain without verification accepts as before');
  assert.equal(statSync(join(a.dataDirPath, 'verification.json')).mode & 0o777, 0o600);
});

test('postmaster and abuse are always accepted, postmaster also without a domain, and delivered', async () => {
  const ip = '127.0.0.12';
  assert.match(await rcpt(a.smtpPort, 'postmaster@static.test', ip), /^250/);
  assert.match(await rcpt(a.smtpPort, 'Abuse@static.test', ip), /^250/);
  assert.match(await rcpt(a.smtpPort, 'postmaster@example.test', ip), /^250/);
  assert.match(await rcpt(a.smtpPort, 'Postmaster', ip), /^250/);
  const sent = await sendMail(a.smtpPort, { from: 'x@origin.test', to: ['postmaster'] }, message({ from: 'x@origin.test', to: 'postmaster' }), '127.0.0.1', { localAddress: ip });
  assert.equal(sent.code, 250, sent.response);
  await waitUntil(() => downstream.received.some((m) => m.to.includes('postmaster@static.test')), 'delivered to postmaster at the first accepted domain');
});

test('% and ! routing in the local part: 501 5.1.3', async () => {
  const ip = '127.0.0.13';
  assert.match(await rcpt(a.smtpPort, 'user%other.example@static.test', ip), /^501 5\.1\.3 /);
  assert.match(await rcpt(a.smtpPort, 'other.example!user@static.test', ip), /^501 5\.1\.3 /);
});

test('call-out: MAIL FROM:<> probe, cached cluster-wide through the master (one probe for both scanners), accept-all detected, a dead server defers 451 4.4.3', async () => {
  const ip = '127.0.0.14';
  const before = mailServer.probes();
  assert.match(await rcpt(a.smtpPort, 'user@example.test', ip), /^250/);
  assert.equal(mailServer.probes(), before + 1);
  assert.match(await rcpt(b.smtpPort, 'user+tag@example.test', ip), /^250/, 'B answers from the cluster cache');
  assert.equal(mailServer.probes(), before + 1, 'no second probe');
  assert.match(await rcpt(a.smtpPort, 'nobody@example.test', ip), /^550 5\.1\.1 /);
  assert.equal(mailServer.probes(), before + 2);
  assert.match(await rcpt(b.smtpPort, 'nobody@example.test', ip), /^550 5\.1\.1 /, 'negative results are shared too');
  assert.equal(mailServer.probes(), before + 2);
  // all.test takes a made-up local part too: accept-all, remembered for the whole domain.
  assert.match(await rcpt(a.smtpPort, 'x@all.test', ip), /^250/);
  assert.match(await rcpt(b.smtpPort, 'y@all.test', ip), /^250/);
  assert.equal(mailServer.probes(), before + 3, 'one probe for the accept-all domain');
  assert.match(await rcpt(a.smtpPort, 'user@dead.test', '127.0.0.15'), /^451 4\.4\.3 /);
});

test('call-out without a target probes the domain\'s own route: its first server by priority, each domain its own; an explicit target still wins', async () => {
  const ip = '127.0.0.20';
  const [one, two, relay] = [oneServer.probes(), twoServer.probes(), mailServer.probes()];
  assert.match(await rcpt(a.smtpPort, 'user@one.test', ip), /^250/);
  assert.match(await rcpt(a.smtpPort, 'nobody@one.test', ip), /^550 5\.1\.1 /);
  assert.equal(oneServer.probes(), one + 2, 'one.test is probed at its priority-10 server');
  assert.equal(twoServer.probes(), two, 'not at its priority-20 server');
  assert.match(await rcpt(a.smtpPort, 'user@two.test', ip), /^250/);
  assert.match(await rcpt(a.smtpPort, 'user@one.test', ip), /^250/, 'cached');
  assert.match(await rcpt(a.smtpPort, 'nobody@two.test', ip), /^550 5\.1\.1 /, 'two.test\'s server knows no nobody');
  assert.equal(twoServer.probes(), two + 2, 'two.test is probed at its own server (the route\'s port)');
  assert.equal(oneServer.probes(), one + 2);
  assert.match(await rcpt(a.smtpPort, 'user@pinned.test', ip), /^250/, 'user@pinned.test is known to the pinned target only');
  assert.equal(oneServer.probes(), one + 3, 'the explicit call-out target, not the route');
  assert.equal(twoServer.probes(), two + 2);
  assert.equal(mailServer.probes(), relay, 'nor example.test\'s server');
});

test('a directory that is down: 451 4.4.3, never 250 or 550; its password is in no API answer and no audit entry', async () => {
  assert.match(await rcpt(a.smtpPort, 'alice@down.test', '127.0.0.16'), /^451 4\.4\.3 /);
  const list = await api.get('/api/v1/verification/sources');
  assert.equal(list.status, 200);
  assert.doesNotMatch(list.text, /sekrit/);
  assert.equal(list.json.sources.find((s: { name: string }) => s.name === 'down').source.bindPassword, '[redacted]');
  const audit = await api.get('/api/v1/audit?action=verification.put');
  assert.equal(audit.status, 200, audit.text);
  assert.doesNotMatch(audit.text, /sekrit|alice@static/);
  const bad = await api.put('/api/v1/verification/sources/x', { kind: 'static', entries: ['ok@x.test', 'no at sign'] });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.details[0].field, 'body.entries.1');
  const tested = await api.post('/api/v1/verification/test', { address: 'nobody@static.test' });
  assert.equal(tested.status, 200, tested.text);
  assert.equal(tested.json.outcome, 'unknown');
  assert.match(tested.json.reply, /^550 5\.1\.1 /);
});

test('LDAP / Active Directory against a real slapd: mail and proxyAddresses (any case), unknown 550', { skip: engineSkip('slapd', 'slapd') }, async () => {
  const slapd: Slapd = await startSlapd();
  try {
    await slapd.add([
      `dn: ou=people,${slapd.suffix}`, 'objectClass: organizationalUnit', 'ou: people', '',
      `dn: uid=alice,ou=people,${slapd.suffix}`, 'objectClass: inetOrgPerson', 'objectClass: moatMailbox', 'uid: alice', 'cn: Alice Smith', 'sn: Smith',
      'mail: alice@ldap.test', 'proxyAddresses: SMTP:alice@ldap.test', 'proxyAddresses: smtp:a.smith@ldap.test', '',
    ].join('\n'));
    const put = await api.put('/api/v1/verification/sources/corp', { kind: 'ldap', url: slapd.url, baseDn: slapd.suffix, bindDn: slapd.rootDn, bindPassword: slapd.rootPassword });
    assert.equal(put.status, 200, put.text);
    const ip = '127.0.0.17';
    await waitUntil(async () => (await rcpt(a.smtpPort, 'alice@ldap.test', ip)).startsWith('250'), 'the directory reached scanner A');
    assert.match(await rcpt(a.smtpPort, 'a.smith@ldap.test', ip), /^250/, 'an smtp: proxy address');
    assert.match(await rcpt(a.smtpPort, 'A.Smith+x@LDAP.test', ip), /^250/, 'case-insensitive, tag cut');
    assert.match(await rcpt(a.smtpPort, 'nobody@ldap.test', ip), /^550 5\.1\.1 /);
    assert.match(await rcpt(a.smtpPort, 'x*)(mail=*@ldap.test', ip), /^(550 5\.1\.1|501)/, 'filter characters are escaped, not injected');
  } finally {
    await slapd.stop();
  }
});

test('LDAP over TLS against a real slapd: LDAPS and StartTLS verified against the given CA; a certificate of another CA is refused with 451 4.4.3, never accepted', { skip: engineSkip('slapd', 'slapd') }, async () => {
  const server = selfSignedCert('127.0.0.1', { altNames: ['IP:127.0.0.1'] });
  const other = selfSignedCert('127.0.0.1', { altNames: ['IP:127.0.0.1'] });
  const slapd: Slapd = await startSlapd({ tls: { certFile: server.cert, keyFile: server.key } });
  try {
    await slapd.add([
      `dn: uid=carol,${slapd.suffix}`, 'objectClass: inetOrgPerson', 'uid: carol', 'cn: Carol', 'sn: Carol',
      'mail: carol@ldaps.test', 'mail: carol@starttls.test', 'mail: carol@wrongca.test', 'mail: carol@wrongca-starttls.test', '',
    ].join('\n'));
    const ca = readFileSync(server.cert, 'utf8');
    const wrongCa = readFileSync(other.cert, 'utf8');
    const base = { kind: 'ldap', baseDn: slapd.suffix, bindDn: slapd.rootDn, bindPassword: slapd.rootPassword, rejectUnauthorized: true };
    for (const [name, source] of Object.entries({
      'tls-ldaps': { ...base, url: slapd.ldapsUrl, startTls: false, ca },
      'tls-starttls': { ...base, url: slapd.url, startTls: true, ca },
      'tls-wrongca': { ...base, url: slapd.ldapsUrl, startTls: false, ca: wrongCa },
      'tls-wrongca-starttls': { ...base, url: slapd.url, startTls: true, ca: wrongCa },
    })) {
      const put = await api.put(`/api/v1/verification/sources/${name}`, source);
      assert.equal(put.status, 200, put.text);
    }
    const ip = '127.0.0.21';
    await waitUntil(async () => (await rcpt(a.smtpPort, 'carol@ldaps.test', ip)).startsWith('250'), 'LDAPS with the right CA finds carol');
    assert.match(await rcpt(a.smtpPort, 'nobody@ldaps.test', ip), /^550 5\.1\.1 /, 'and answers for an unknown user over LDAPS');
    assert.match(await rcpt(a.smtpPort, 'carol@starttls.test', ip), /^250/, 'StartTLS with the right CA');
    assert.match(await rcpt(a.smtpPort, 'nobody@starttls.test', ip), /^550 5\.1\.1 /);
    assert.match(await rcpt(a.smtpPort, 'carol@wrongca.test', ip), /^451 4\.4\.3 /, 'LDAPS: a certificate the CA did not sign is refused');
    assert.match(await rcpt(a.smtpPort, 'carol@wrongca-starttls.test', ip), /^451 4\.4\.3 /, 'StartTLS: the same');
    const tested = await api.post('/api/v1/verification/test', { address: 'carol@wrongca.test' });
    assert.equal(tested.status, 200, tested.text);
    assert.equal(tested.json.outcome, 'unavailable');
    assert.match(tested.json.detail, /certificate/i, 'the reason names the certificate');
    assert.doesNotMatch(tested.json.detail, new RegExp(slapd.rootPassword));
  } finally {
    await slapd.stop();
    server.cleanup();
    other.cleanup();
  }
});

test('directory harvesting: past 3 unknown recipients from one address the session gets 421 and is closed', async () => {
  const ip = '127.0.0.18';
  const s = await RawSmtp.open(a.smtpPort, { localAddress: ip });
  try {
    await s.reply();
    await s.command('EHLO harvester.test');
    await s.command('MAIL FROM:<h@origin.test>');
    for (const u of ['u1', 'u2', 'u3']) assert.match(await s.command(`RCPT TO:<${u}@static.test>`), /^550 5\.1\.1 /);
    assert.match(await s.command('RCPT TO:<u4@static.test>'), /^421 4\.7\.0 /);
    assert.equal(await s.reply(), '(closed)');
  } finally {
    s.close();
  }
  assert.match(await rcpt(a.smtpPort, 'alice@static.test', '127.0.0.19'), /^250/, 'other addresses are not affected');
});
