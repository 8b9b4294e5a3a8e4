import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DETECTION_MODEL, GTUBE } from '@moat/rules';
import { startDownstream, type Downstream } from '../helpers/downstream.ts';
import { startTestScanner, type ScannerUnderTest } from '../helpers/scanner-harness.ts';
import { message, sendMail, sendViaProxy } from '../helpers/smtp-client.ts';
import { waitUntil } from '../helpers/wait.ts';
import { SPAMD_SKIP, startSpamd, type Spamd } from '../helpers/spamd.ts';
import { ping } from '../../apps/scanner/src/analyzers/spamassassin/spamc-client.ts';

// 198.51.100.20 is a documentation address: a client outside spamd's trusted networks (127/8).
const STRANGER = '198.51.100.20';
const envelope = { from: 'sender@origin.test', to: ['user@example.test'] };
const queueId = (response: string) => /queued as (\S+)/.exec(response)![1]!;
const mail = (subject: string, body = 'Lunch tomorrow at noon? The usual place, I will book a table.') =>
  message({ subject, body, headers: [`Date: ${new Date().toUTCString()}`] });

type Reason = { kind: string; rule: string; match?: string; score?: number };
function reasons(node: ScannerUnderTest, where: string): { status: string; reasons: Reason[] } {
  const r = node.scanner.db.prepare(`SELECT status, reasons FROM messages WHERE ${where}`).get() as { status: string; reasons: string } | undefined;
  assert.ok(r, `no messages row where ${where}`);
  return { status: r.status, reasons: JSON.parse(r.reasons) as Reason[] };
}
const saReason = (rs: Reason[]) => rs.find((r) => r.rule === 'spamassassin');
const delivered = (downstream: Downstream, subject: string) => downstream.received.find((m) => m.raw.toString().includes(`\r\nSubject: ${subject}\r\n`))?.raw.toString();

/** One message through a trusted PROXY v1 header, so the scanner (and spamd, through our Received line) sees `clientIp`. */
const sendAs = (port: number, clientIp: string, raw: string) => sendViaProxy(port, clientIp, { from: envelope.from, to: envelope.to[0]! }, raw);

// 127.0.0.1 is the trusted PROXY sender; the tests' plain connections come from 127.0.0.2 (also in spamd's 127/8).
const smtp = { listen: { host: '127.0.0.1', port: 0 }, hostname: 'scanner.test', trustedProxies: ['127.0.0.1'] };
const send = (port: number, raw: string) => sendMail(port, envelope, raw, '127.0.0.1', { localAddress: '127.0.0.2' });

describe('SpamAssassin with a real spamd', { skip: SPAMD_SKIP, timeout: 120_000 }, () => {
  let spamd: Spamd;
  let downstream: Downstream;
  let node: ScannerUnderTest;
  before(async () => {
    spamd = await startSpamd();
    downstream = await startDownstream();
    node = await startTestScanner(downstream.port, { overrides: { smtp, analyzers: { spamassassin: { host: spamd.host, port: spamd.port } } } });
  });
  after(async () => {
    await node?.close();
    await downstream?.close();
    await spamd?.stop();
  });

  test('GTUBE: SpamAssassin\'s reason, GTUBE(1000) weighed by the model, reaches the reject threshold alone (the built-in check rejects it too)', async () => {
    // From a stranger: from loopback, ALL_TRUSTED (-1) would take it to 999.
    const r = await sendAs(node.port, STRANGER, mail('sa gtube', `${GTUBE}\r\n`));
    assert.match(r, /^550 5\.7\.1 /);
    const row = reasons(node, "subject = 'sa gtube'");
    assert.ok(row.reasons.some((x) => x.rule === 'gtube'));
    const sa = saReason(row.reasons)!;
    const points = /^score (10\d\d(?:\.\d)?)\/5\b[^:]*: GTUBE\(1000\)/.exec(sa.match!);
    assert.ok(points, JSON.stringify(sa));
    assert.equal(sa.score, Math.round(Number(points[1]) * DETECTION_MODEL.weights.spamassassin * 1000) / 1000);
    assert.ok(sa.score! >= 20, JSON.stringify(sa));
  });

  test('a plain message is delivered with X-Moat-Spam-Scan: spamassassin score=… and the spamassassin reason', async () => {
    const r = await send(node.port, mail('sa plain'));
    assert.match(r.response, /^250 /);
    await waitUntil(() => delivered(downstream, 'sa plain'), 'the plain message downstream');
    const raw = delivered(downstream, 'sa plain')!;
    const header = /^X-Moat-Spam-Scan: spamassassin score=(-?[\d.]+) required=5\r\n/m.exec(raw);
    assert.ok(header, raw.slice(0, 600));
    const sa = saReason(reasons(node, `id = '${queueId(r.response)}'`).reasons)!;
    // The header has SpamAssassin's own score; the reason, its points times the detection
    // model's weight for SpamAssassin's rules, naming both (its Bayes, untrained here, has no vote).
    const weight = DETECTION_MODEL.weights.spamassassin;
    assert.equal(sa.score, Math.round(Number(header[1]) * weight * 1000) / 1000);
    assert.ok(sa.score! < 5, JSON.stringify(sa));
    assert.match(sa.match!, new RegExp(`^score ${header[1]!.replace('.', '\\.')}/5 ×${weight} \\(model ${DETECTION_MODEL.version.replace(/\./g, '\\.')}\\)`));
  });

  test('spamd sees the real client through our Received line: trusted loopback is ALL_TRUSTED, a stranger behind PROXY is not and has no rDNS', async () => {
    const local = await send(node.port, mail('sa from loopback'));
    assert.match(local.response, /^250 /);
    const stranger = await sendAs(node.port, STRANGER, mail('sa from stranger'));
    assert.match(stranger, /^250 /);
    const fromLoopback = saReason(reasons(node, `id = '${queueId(local.response)}'`).reasons)!.match!;
    const fromStranger = saReason(reasons(node, `id = '${queueId(stranger)}'`).reasons)!.match!;
    // Without our line SpamAssassin would see no relay at all (NO_RELAYS) for both.
    assert.match(fromLoopback, / ALL_TRUSTED\(-?[\d.]+\)/);
    assert.doesNotMatch(fromLoopback, /NO_RELAYS|RDNS_NONE/);
    assert.doesNotMatch(fromStranger, /ALL_TRUSTED|NO_RELAYS/);
    assert.match(fromStranger, / RDNS_NONE\([\d.]+\)/);
  });
});

describe('spamd killed with -9 mid-run', { skip: SPAMD_SKIP, timeout: 120_000 }, () => {
  test('delivered with X-Moat-Spam-Scan: unavailable by default, 451 4.3.0 with temp-fail; every accepted message delivered', async () => {
    const spamd = await startSpamd();
    const downstream = await startDownstream();
    const analyzers = (onUnavailable: string) => ({ spamassassin: { host: spamd.host, port: spamd.port, timeoutSeconds: 5, onUnavailable } });
    const lenient = await startTestScanner(downstream.port, { overrides: { analyzers: analyzers('pass') } });
    const strict = await startTestScanner(downstream.port, { overrides: { analyzers: analyzers('temp-fail') } });
    try {
      const up = await sendMail(lenient.port, envelope, mail('sa before kill'));
      assert.match(up.response, /^250 /);
      // A burst in flight while spamd dies: each message is either scanned or falls back, none is lost.
      const burst = Array.from({ length: 6 }, (_, i) => sendMail(i % 2 ? strict.port : lenient.port, envelope, mail(`sa burst ${i}`)));
      process.kill(spamd.pid, 'SIGKILL');
      const results = await Promise.all(burst);
      // Its children notice their parent is gone and exit; until then they may still answer.
      await waitUntil(async () => !(await ping({ host: spamd.host, port: spamd.port }, { signal: AbortSignal.timeout(2000) }).then(() => true, () => false)), 'spamd to stop answering');

      const passed = await sendMail(lenient.port, envelope, mail('sa after kill'));
      assert.match(passed.response, /^250 /);
      const failed = await sendMail(strict.port, envelope, mail('sa after kill strict'));
      assert.match(failed.response, /^451 4\.3\.0 .*spamassassin unavailable/);

      const accepted = ['sa before kill', 'sa after kill', ...results.flatMap((r, i) => (r.code === 250 ? [`sa burst ${i}`] : []))];
      results.forEach((r, i) => {
        if (i % 2 === 0) assert.equal(r.code, 250, `lenient burst ${i}: ${r.response}`);
        else assert.ok(r.code === 250 || /^451 4\.3\.0 .*spamassassin unavailable/.test(r.response), `strict burst ${i}: ${r.response}`);
      });
      await waitUntil(() => accepted.every((s) => delivered(downstream, s)), `all of ${accepted.join(', ')} downstream`);
      assert.match(delivered(downstream, 'sa before kill')!, /^X-Moat-Spam-Scan: spamassassin score=/m);
      assert.match(delivered(downstream, 'sa after kill')!, /^X-Moat-Spam-Scan: unavailable\r\n/m);
      assert.ok(saReason(reasons(lenient, `id = '${queueId(passed.response)}'`).reasons) === undefined);
      assert.ok(reasons(lenient, `id = '${queueId(passed.response)}'`).reasons.some((r) => r.rule === 'spamassassin.unavailable'));
      for (const i of [0, 2, 4]) assert.match(delivered(downstream, `sa burst ${i}`)!, /^X-Moat-Spam-Scan: (spamassassin score=-?[\d.]+ required=5|unavailable)\r\n/m);
      assert.equal(delivered(downstream, 'sa after kill strict'), undefined, 'a 451 is not accepted, so not delivered');
    } finally {
      await lenient.close();
      await strict.close();
      await downstream.close();
      await spamd.stop();
    }
  });
});
