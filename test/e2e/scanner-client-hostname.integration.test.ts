import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startDownstream, type Downstream } from '../helpers/downstream.ts';
import { startTestScanner, type ScannerUnderTest } from '../helpers/scanner-harness.ts';
import { message, sendViaProxy } from '../helpers/smtp-client.ts';
import { waitUntil } from '../helpers/wait.ts';
import { startDnsmasq, DNSMASQ_SKIP, type Dnsmasq } from '../helpers/dnsmasq.ts';
import { startSpamd, SPAMD_SKIP, type Spamd } from '../helpers/spamd.ts';
import { startRspamd, RSPAMD_SKIP, type Rspamd } from '../helpers/rspamd.ts';

/**
 * The client's name, looked up as a border MTA does (`smtp.reverseDns`): a real dnsmasq serves
 * the PTR and A records, clients come through a trusted PROXY header with documentation
 * addresses (outside spamd's trusted networks and Rspamd's local ones), and real spamd and
 * Rspamd judge the mail. A name that resolves back goes in our Received line and to Rspamd, so
 * neither engine's reverse-DNS rule fires; a PTR that does not point back counts as no name.
 */
const CONFIRMED = '198.51.100.21'; // PTR mail.client.test, whose A record is this address
const LIAR = '198.51.100.22'; // PTR claims trusted.bank.test, which has no A record back to it
const NAMELESS = '198.51.100.23'; // no PTR at all
const envelope = { from: 'sender@origin.test', to: ['user@example.test'] };
const SKIP = DNSMASQ_SKIP || SPAMD_SKIP || RSPAMD_SKIP;

type Reason = { rule: string; match?: string };

async function sendAs(port: number, clientIp: string, subject: string): Promise<string> {
  const raw = message({ subject, body: 'Lunch tomorrow at noon? The usual place, I will book a table.', headers: [`Date: ${new Date().toUTCString()}`] });
  const reply = await sendViaProxy(port, clientIp, { from: envelope.from, to: envelope.to[0]! }, raw);
  assert.match(reply, /^250 /);
  return /queued as (\S+)/.exec(reply)![1]!;
}

describe('the client\'s forward-confirmed name (smtp.reverseDns)', { skip: SKIP, timeout: 180_000 }, () => {
  let dns: Dnsmasq;
  let spamd: Spamd;
  let rspamd: Rspamd;
  let downstream: Downstream;
  let node: ScannerUnderTest;
  let off: ScannerUnderTest;
  before(async () => {
    dns = await startDnsmasq({ a: { 'mail.client.test': CONFIRMED }, ptr: { [`${LIAR.split('.').reverse().join('.')}.in-addr.arpa`]: 'trusted.bank.test' } });
    [spamd, rspamd] = await Promise.all([startSpamd(), startRspamd({ dnsServer: dns.server })]);
    downstream = await startDownstream();
    const overrides = (reverseDns: boolean) => ({
      smtp: { listen: { host: '127.0.0.1', port: 0 }, hostname: 'scanner.test', trustedProxies: ['127.0.0.1'], reverseDns },
      analyzers: { dns: { servers: [dns.server] }, spamassassin: { host: spamd.host, port: spamd.port, skipWhenRspamdSure: false }, rspamd: { url: rspamd.url } },
    });
    node = await startTestScanner(downstream.port, { overrides: overrides(true) });
    off = await startTestScanner(downstream.port, { overrides: overrides(false) });
  });
  after(async () => {
    await node?.close();
    await off?.close();
    await downstream?.close();
    await Promise.all([spamd?.stop(), rspamd?.stop()]);
    await dns?.stop();
  });

  /** The Received line the scanner put on the delivered copy, and what each engine said. */
  async function judged(scanner: ScannerUnderTest, clientIp: string, subject: string) {
    const id = await sendAs(scanner.port, clientIp, subject);
    const row = scanner.scanner.db.prepare('SELECT reasons FROM messages WHERE id = ?').get(id) as { reasons: string };
    const reasons = JSON.parse(row.reasons) as Reason[];
    const engine = (rule: string) => {
      const r = reasons.find((x) => x.rule === rule);
      assert.ok(r?.match, `${subject}: no ${rule} reason in ${row.reasons}`);
      return r.match;
    };
    await waitUntil(() => downstream.received.some((m) => m.raw.toString().includes(`\r\nSubject: ${subject}\r\n`)), `${subject} delivered`);
    const raw = downstream.received.find((m) => m.raw.toString().includes(`\r\nSubject: ${subject}\r\n`))!.raw.toString();
    const received = /^Received: from [^\r]*\(([^)]*)\)\r\n\tby scanner\.test \(Moat\)/m.exec(raw)?.[1];
    assert.ok(received, `${subject}: no Received line of ours in\n${raw.slice(0, 600)}`);
    return { received, spamassassin: engine('spamassassin'), rspamd: engine('rspamd') };
  }

  test('a name that resolves back to the client is in our Received line and reaches both engines: no RDNS_NONE, no HFILTER_HOSTNAME_UNKNOWN', async () => {
    const r = await judged(node, CONFIRMED, 'rdns confirmed');
    assert.equal(r.received, `mail.client.test [${CONFIRMED}]`);
    assert.doesNotMatch(r.spamassassin, /RDNS_NONE/);
    assert.doesNotMatch(r.rspamd, /HFILTER_HOSTNAME_UNKNOWN/);
  });

  test('a PTR that does not resolve back, or none, is no name: both engines count the client as unknown', async () => {
    for (const [ip, subject] of [[LIAR, 'rdns liar'], [NAMELESS, 'rdns none']] as const) {
      const r = await judged(node, ip, subject);
      assert.equal(r.received, `[${ip}]`, subject);
      assert.match(r.spamassassin, /RDNS_NONE\(/, subject);
      assert.match(r.rspamd, /HFILTER_HOSTNAME_UNKNOWN\(/, subject);
    }
  });

  test('with smtp.reverseDns false no name is looked up, even one that resolves back', async () => {
    const r = await judged(off, CONFIRMED, 'rdns off');
    assert.equal(r.received, `[${CONFIRMED}]`);
    assert.match(r.spamassassin, /RDNS_NONE\(/);
    assert.match(r.rspamd, /HFILTER_HOSTNAME_UNKNOWN\(/);
  });
});
