import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DETECTION_MODEL } from '@moat/rules';
import { startDnsStub, startRspamd, startSpamd, type DnsStub, type Rspamd, type Spamd } from '@moat/engines';
import { startDownstream, type Downstream } from '../helpers/downstream.ts';
import { startTestScanner, type ScannerUnderTest } from '../helpers/scanner-harness.ts';
import { sendMail } from '../helpers/smtp-client.ts';
import { engineSkip } from '../helpers/engines.ts';

/**
 * Both spam engines on one scanner, as `pnpm start` runs them (network tests off): a clear spam
 * is flagged by each engine alone and by Moat on its one score scale; an ordinary message is
 * delivered. The verdict's reasons are the detection model's signals, each with its weight.
 */
const SKIP = engineSkip('spamd', 'spamd') || engineSkip('rspamd', 'rspamd');

/** A clear spam, no Date or Message-ID (as much junk is sent), HTML only, the usual words. */
const SPAM = [
  'From: "Best Deals" <deals4u@freemail-offers.biz>',
  'To: undisclosed-recipients:;',
  'Subject: =?utf-8?B?RlJFRSBNT05FWSEhISBDbGFpbSB5b3VyICQxLDAwMCwwMDAgTk9XISEh?=',
  'MIME-Version: 1.0',
  'Content-Type: text/html; charset="utf-8"',
  '',
  '<html><body bgcolor="#FF0000"><font size="7" color="#FFFF00"><b>CONGRATULATIONS!!! YOU HAVE WON $1,000,000 US DOLLARS!!!</b></font>',
  '<p>Dear Friend, this is a ONE TIME OFFER. 100% GUARANTEED. No credit check! Act now! Limited time only!',
  'Claim your CASH PRIZE and get cheap VIAGRA, CIALIS and replica ROLEX watches at 90% OFF.',
  'Make money fast working from home, earn $5000 per week. Lose weight fast!</p>',
  '<p><a href="http://198.51.100.7/claim.php?id=12345">CLICK HERE TO CLAIM YOUR PRIZE</a></p>',
  '<p>Send your bank account details and social security number to receive your wire transfer.</p>',
  '<font color="#FFFFFF" size="1">unsubscribe remove me from this list mailing list opt out</font>',
  '<p>To be removed from our mailing list click <a href="http://198.51.100.7/remove.php">here</a>.</p>',
  '</body></html>',
  '',
].join('\r\n');

const HAM = () => [
  'From: Alice Martin <alice@partner.test>',
  'To: Bob <user@example.test>',
  'Subject: Minutes of Tuesday\'s project meeting',
  `Date: ${new Date().toUTCString()}`,
  `Message-ID: <minutes-${Date.now()}@partner.test>`,
  'MIME-Version: 1.0',
  'Content-Type: text/plain; charset=utf-8',
  '',
  'Hi Bob,',
  '',
  'here are the minutes of Tuesday\'s meeting. We agreed to move the release to the 14th, Carol',
  'will update the test plan, and I will send the revised budget to finance by Friday.',
  '',
  'Let me know if I missed anything.',
  '',
  'Alice',
  '',
].join('\r\n');

type Reason = { kind: string; rule: string; match: string; score?: number; action?: string };

describe('both spam engines on one score scale', { skip: SKIP, timeout: 180_000 }, () => {
  let dns: DnsStub;
  let spamd: Spamd;
  let rspamd: Rspamd;
  let downstream: Downstream;
  let node: ScannerUnderTest;
  before(async () => {
    dns = await startDnsStub();
    [spamd, rspamd] = await Promise.all([startSpamd(), startRspamd({ dnsServer: dns.address })]);
    downstream = await startDownstream();
    node = await startTestScanner(downstream.port, { overrides: { analyzers: { spamassassin: { host: spamd.host, port: spamd.port }, rspamd: { url: rspamd.url } } } });
  });
  after(async () => {
    await node?.close();
    await downstream?.close();
    await Promise.all([spamd?.stop(), rspamd?.stop()]);
    await dns?.stop();
  });

  const verdict = (from: string) => {
    const row = node.scanner.db.prepare('SELECT action, score, reasons FROM messages WHERE mail_from = ? ORDER BY received_at DESC LIMIT 1').get(from) as { action: string; score: number; reasons: string };
    assert.ok(row, `no verdict for ${from}`);
    return { action: row.action, score: row.score, reasons: JSON.parse(row.reasons) as Reason[] };
  };

  test('a clear spam: SpamAssassin alone and Rspamd alone flag it, and so does Moat, each signal weighed by the model', async () => {
    const r = await sendMail(node.port, { from: 'deals4u@freemail-offers.biz', to: ['user@example.test'] }, SPAM);
    const v = verdict('deals4u@freemail-offers.biz');
    assert.notEqual(v.action, 'deliver', `Moat delivered a clear spam (score ${v.score}; reply ${r.response})`);
    const sa = v.reasons.find((x) => x.rule === 'spamassassin')!;
    const [, saScore, saRequired] = /score (-?[\d.]+)\/([\d.]+)/.exec(sa.match)!;
    assert.ok(Number(saScore) >= Number(saRequired), `SpamAssassin alone: ${sa.match}`);
    const rs = v.reasons.find((x) => x.rule === 'rspamd')!;
    assert.match(rs.match, /^(add header|rewrite subject|reject|soft reject), score/, 'Rspamd alone asks for an action');
    // Its action is recorded, not obeyed: no reason carries an action from an engine.
    assert.equal(rs.action, undefined);
    for (const x of [sa, rs]) assert.match(x.match, new RegExp(`×${DETECTION_MODEL.weights[x.rule as 'rspamd']} \\(model ${DETECTION_MODEL.version.replace(/\./g, '\\.')}\\)`));
    assert.equal(v.score, Math.round(v.reasons.reduce((s, x) => s + (x.score ?? 0), 0) * 1000) / 1000, 'the score is the sum of the reasons shown');
  });

  test('an ordinary message is delivered, its scan headers on it', async () => {
    const r = await sendMail(node.port, { from: 'alice@partner.test', to: ['user@example.test'] }, HAM());
    assert.match(r.response, /^250 /);
    assert.equal(verdict('alice@partner.test').action, 'deliver');
    await downstream.waitFor(1);
    const raw = downstream.received.at(-1)!.raw.toString();
    assert.match(raw, /^X-Moat-Spam-Scan: spamassassin score=/m);
    assert.match(raw, /^X-Moat-Spam-Scan: rspamd score=/m);
  });
});
