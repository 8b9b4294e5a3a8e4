import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startDownstream, type Downstream } from '../helpers/downstream.ts';
import { BASE_RULES, startTestScanner, type ScannerUnderTest } from '../helpers/scanner-harness.ts';
import { sendMail } from '../helpers/smtp-client.ts';
import { CLAMD_SKIP, EICAR, startClamd, type Clamd } from '../helpers/clamd.ts';
import { storedZip, withAttachment } from '../helpers/zip.ts';
import { vbaMacroDocument } from '../helpers/ole2.ts';

const envelope = { from: 'sender@origin.test', to: ['user@example.test'] };
const queueId = (response: string) => /queued as (\S+)/.exec(response)![1]!;
const row = (node: ScannerUnderTest, id: string) =>
  node.scanner.db.prepare('SELECT action, status, reasons FROM messages WHERE id = ?').get(id) as { action: string; status: string; reasons: string };
const reasonsOf = (r: { reasons: string }) => JSON.parse(r.reasons) as { kind: string; rule: string; match: string; action?: string }[];

const macroDoc = (subject: string) => withAttachment({ subject, filename: 'invoice.doc', contentType: 'application/msword', data: vbaMacroDocument() });
const encryptedZip = (subject: string) =>
  withAttachment({ subject, filename: 'invoice.zip', contentType: 'application/zip', data: storedZip([{ name: 'invoice.txt', data: Buffer.from('pay now\n') }], { password: 'secret' }) });

async function scanner(downstream: Downstream, clamd: Clamd, heuristics?: Record<string, string>): Promise<ScannerUnderTest> {
  return startTestScanner(downstream.port, { overrides: { analyzers: { clamav: { port: clamd.port, ...(heuristics ? { heuristics } : {}) } } } });
}

describe('clamd\'s macro and encryption heuristics as policy, with a real clamd', { skip: CLAMD_SKIP }, () => {
  let clamd: Clamd;
  let downstream: Downstream;
  before(async () => {
    clamd = await startClamd({ alertOle2Macros: true, alertEncrypted: true });
    downstream = await startDownstream();
  });
  after(async () => {
    await downstream?.close();
    await clamd?.stop();
  });

  test('macros: quarantine, encrypted: reject: an Office document with a macro is held (clamav.macros), an encrypted zip refused (clamav.encrypted), neither as a virus', async () => {
    const node = await scanner(downstream, clamd, { macros: 'quarantine', encrypted: 'reject' });
    try {
      const held = await sendMail(node.port, envelope, macroDoc('macro document'));
      assert.match(held.response, /^250 /);
      const r = row(node, queueId(held.response));
      assert.equal(r.status, 'quarantined');
      assert.deepEqual(reasonsOf(r).filter((x) => x.rule.startsWith('clamav')).map((x) => [x.kind, x.rule, x.action]), [['analyzer', 'clamav.macros', 'quarantine']]);
      assert.match(reasonsOf(r).find((x) => x.rule === 'clamav.macros')!.match, /^Heuristics\.OLE2\.ContainsMacros/);
      assert.ok(!reasonsOf(r).some((x) => x.kind === 'virus'), 'not a virus');

      const refused = await sendMail(node.port, envelope, encryptedZip('encrypted zip'));
      assert.equal(refused.code, 550, refused.response);
      const rejected = node.scanner.db.prepare("SELECT status, reasons FROM messages WHERE subject = 'encrypted zip'").get() as { status: string; reasons: string };
      assert.equal(rejected.status, 'rejected');
      const why = reasonsOf(rejected).find((x) => x.rule === 'clamav.encrypted')!;
      assert.equal(why.action, 'reject');
      assert.match(why.match, /^Heuristics\.Encrypted\.Zip/);
      assert.ok(!reasonsOf(rejected).some((x) => x.kind === 'virus'), 'not a virus');
    } finally {
      await node.close();
    }
  });

  test('a real virus beside an encrypted archive stays a virus', async () => {
    const node = await scanner(downstream, clamd, { macros: 'tag', encrypted: 'tag' });
    try {
      const zip = storedZip([{ name: 'a.txt', data: Buffer.from('x\n') }], { password: 'secret' }).toString('base64');
      const raw = [
        'From: sender@origin.test', 'To: user@example.test', 'Subject: virus and zip', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="b1"', '',
        '--b1', 'Content-Type: text/plain', '', 'See the attachments.',
        '--b1', 'Content-Type: application/zip; name="a.zip"', 'Content-Disposition: attachment; filename="a.zip"', 'Content-Transfer-Encoding: base64', '', zip,
        '--b1', 'Content-Type: text/plain; name="eicar.txt"', 'Content-Disposition: attachment; filename="eicar.txt"', '', EICAR,
        '--b1--', '',
      ].join('\r\n');
      const result = await sendMail(node.port, envelope, raw);
      assert.match(result.response, /^250 /);
      const r = row(node, queueId(result.response));
      assert.equal(r.status, 'quarantined');
      const viruses = reasonsOf(r).filter((x) => x.kind === 'virus');
      assert.equal(viruses.length, 1);
      assert.match(viruses[0]!.match, /^Moat\.Test\.EICAR/, 'clamd reports the signature, not the heuristic (HeuristicScanPrecedence no)');
      assert.ok(!reasonsOf(r).some((x) => x.rule === 'clamav.encrypted'));
    } finally {
      await node.close();
    }
  });

  test('by default (off) the findings are recorded and the mail delivered; `tag` tags it', async () => {
    const off = await scanner(downstream, clamd);
    try {
      const before = downstream.received.length;
      const sent = await sendMail(off.port, envelope, macroDoc('macro, policy off'));
      assert.match(sent.response, /^250 /);
      await downstream.waitFor(before + 1);
      const raw = downstream.received.at(-1)!.raw.toString('latin1');
      assert.match(raw, /^X-Moat-Virus-Scan: no virus found; heuristic Heuristics\.OLE2\.ContainsMacros/m);
      assert.match(raw, /^X-Moat-Verdict: deliver/m);
      const why = reasonsOf(row(off, queueId(sent.response))).find((x) => x.rule === 'clamav.macros')!;
      assert.equal(why.action, undefined, 'recorded without an action');
    } finally {
      await off.close();
    }
    const tag = await scanner(downstream, clamd, { encrypted: 'tag' });
    try {
      const before = downstream.received.length;
      const sent = await sendMail(tag.port, envelope, encryptedZip('zip, policy tag'));
      assert.match(sent.response, /^250 /);
      await downstream.waitFor(before + 1);
      const raw = downstream.received.at(-1)!.raw.toString('latin1');
      assert.match(raw, /^X-Moat-Verdict: tag/m);
      assert.match(raw, /^X-Moat-Reasons: .*clamav\.encrypted/m);
    } finally {
      await tag.close();
    }
  });
});

test('analyzers.clamav.heuristics: an unknown action or key is refused, naming the key', async () => {
  for (const heuristics of [{ macros: 'block' }, { scripts: 'reject' }]) {
    await assert.rejects(startTestScanner(1, { rules: BASE_RULES, overrides: { analyzers: { clamav: { heuristics } } } }), /analyzers\.clamav\.heuristics/);
  }
});
