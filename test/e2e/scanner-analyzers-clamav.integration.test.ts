import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startDownstream, type Downstream } from '../helpers/downstream.ts';
import { BASE_RULES, startTestScanner, type ScannerUnderTest } from '../helpers/scanner-harness.ts';
import { message, sendMail } from '../helpers/smtp-client.ts';
import { CLAMD_SKIP, EICAR, startClamd, type Clamd } from '../helpers/clamd.ts';
import { storedZip, withAttachment } from '../helpers/zip.ts';
import { waitUntil } from '../helpers/wait.ts';

const RULES = { ...BASE_RULES, limits: { maxMessageBytes: 8 * 1024 * 1024, maxRecipients: 5 } };
const envelope = { from: 'sender@origin.test', to: ['user@example.test'] };

function analyzers(clamav: Record<string, unknown>) {
  return { overrides: { analyzers: { clamav } } };
}

function row(node: ScannerUnderTest, id: string) {
  return node.scanner.db.prepare('SELECT action, status, reasons FROM messages WHERE id = ?').get(id) as { action: string; status: string; reasons: string } | undefined;
}
const queueId = (response: string) => /queued as (\S+)/.exec(response)![1]!;

describe('ClamAV over INSTREAM with a real clamd', { skip: CLAMD_SKIP }, () => {
  let clamd: Clamd;
  let downstream: Downstream;
  before(async () => {
    clamd = await startClamd();
    downstream = await startDownstream();
  });
  after(async () => {
    await downstream?.close();
    await clamd?.stop();
  });

  test('EICAR as an attachment is quarantined, even from an allow-listed client; a clean message passes with the scan header', async () => {
    const node = await startTestScanner(downstream.port, { rules: { ...RULES, lists: { ipAllow: ['127.0.0.1'] } }, ...analyzers({ port: clamd.port }) });
    try {
      const infected = await sendMail(node.port, envelope, withAttachment({ subject: 'eicar', filename: 'eicar.com.txt', contentType: 'text/plain', data: Buffer.from(EICAR) }));
      assert.match(infected.response, /^250 /, 'quarantined mail is accepted');
      const r = row(node, queueId(infected.response))!;
      assert.equal(r.status, 'quarantined');
      assert.match(r.reasons, /"kind":"virus".*Moat\.Test\.EICAR/);
      assert.match(r.reasons, /ip-list/, 'the allow-list hit is recorded, and lost to the virus');

      const before = downstream.received.length;
      const clean = await sendMail(node.port, envelope, message({ subject: 'clean' }));
      assert.match(clean.response, /^250 /);
      await downstream.waitFor(before + 1);
      const raw = downstream.received.at(-1)!.raw.toString();
      assert.match(raw, /^X-Moat-Virus-Scan: clean\r\n/m);
      assert.match(raw, /Subject: clean/);
      assert.equal(downstream.received.filter((m) => m.raw.includes('eicar.com.txt')).length, 0, 'the virus never reaches downstream');
    } finally {
      await node.close();
    }
  });

  test('a zipped EICAR is caught; with `action: reject` the sender gets 550, over the unix socket', async () => {
    const node = await startTestScanner(downstream.port, { rules: RULES, ...analyzers({ socket: clamd.socket, action: 'reject' }) });
    try {
      const zip = storedZip([{ name: 'readme.txt', data: Buffer.from('nothing here\n') }, { name: 'docs/eicar.txt', data: Buffer.from(EICAR) }]);
      const result = await sendMail(node.port, envelope, withAttachment({ subject: 'zipped', filename: 'invoice.zip', contentType: 'application/zip', data: zip }));
      assert.equal(result.code, 550);
      assert.match(result.response, /^550 5\.7\.1 /);
      const r = node.scanner.db.prepare("SELECT status, reasons FROM messages WHERE subject = 'zipped'").get() as { status: string; reasons: string };
      assert.equal(r.status, 'rejected');
      assert.match(r.reasons, /Moat\.Test\.EICAR/);
      assert.deepEqual(readdirSync(join(node.dir, 'data', 'queue')), [], 'the rejected message left no file');
    } finally {
      await node.close();
    }
  });

  test('past clamd\'s StreamMaxLength the message is held (not delivered unscanned), or passed with a header when configured', async () => {
    const big = message({ subject: 'big', body: 'x'.repeat(76).concat('\r\n').repeat(40_000) }); // ~3 MB > StreamMaxLength 2M
    const held = await startTestScanner(downstream.port, { rules: RULES, ...analyzers({ port: clamd.port, streamMaxBytes: 2 * 1024 * 1024 }) });
    try {
      const result = await sendMail(held.port, envelope, big);
      assert.match(result.response, /^250 /);
      const r = row(held, queueId(result.response))!;
      assert.equal(r.status, 'quarantined');
      assert.match(r.reasons, /clamav\.too-large/);
    } finally {
      await held.close();
    }
    const passed = await startTestScanner(downstream.port, { rules: RULES, ...analyzers({ port: clamd.port, streamMaxBytes: 2 * 1024 * 1024, onTooLarge: 'pass' }) });
    try {
      const before = downstream.received.length;
      const result = await sendMail(passed.port, envelope, big);
      assert.match(result.response, /^250 /);
      await downstream.waitFor(before + 1);
      assert.match(downstream.received.at(-1)!.raw.toString('latin1', 0, 2000), /X-Moat-Virus-Scan: not scanned \(too large\)/);
    } finally {
      await passed.close();
    }
  });
});

describe('ClamAV unavailable', { skip: CLAMD_SKIP }, () => {
  test('clamd stopped: 451 4.3.0 by default and the received file is removed; with `onUnavailable: pass` delivered with X-Moat-Virus-Scan: unavailable', async () => {
    const clamd = await startClamd();
    const port = clamd.port;
    const downstream = await startDownstream();
    const strict = await startTestScanner(downstream.port, { rules: RULES, ...analyzers({ port, timeoutSeconds: 2 }) });
    const lenient = await startTestScanner(downstream.port, { rules: RULES, ...analyzers({ port, timeoutSeconds: 2, onUnavailable: 'pass' }) });
    try {
      assert.match((await sendMail(strict.port, envelope, message({ subject: 'while up' }))).response, /^250 /);
      // Let that message leave the queue first: its delivery deletes its row, then its file, so
      // a look in between would see its file without a row and blame the temp-failed message.
      await downstream.waitFor(1);
      const queueDir = join(strict.dir, 'data', 'queue');
      await waitUntil(() => readdirSync(queueDir).length === 0, 'the delivered message\'s file removed');
      await clamd.stop();
      const down = await sendMail(strict.port, envelope, message({ subject: 'while down' }));
      assert.equal(down.code, 451);
      assert.match(down.response, /^451 4\.3\.0 .*clamav unavailable/);
      const queued = new Set((strict.scanner.db.prepare('SELECT file FROM queue').all() as { file: string }[]).map((r) => r.file));
      assert.deepEqual(readdirSync(queueDir).filter((f) => !queued.has(f)), [], 'the temp-failed message left no file');
      assert.equal((strict.scanner.db.prepare("SELECT count(*) AS n FROM messages WHERE subject = 'while down'").get() as { n: number }).n, 0, 'a temp-failed message is not logged as accepted');

      const passed = await sendMail(lenient.port, envelope, message({ subject: 'passed unscanned' }));
      assert.match(passed.response, /^250 /);
      await downstream.waitFor(2);
      const raw = downstream.received.find((m) => m.raw.includes('passed unscanned'))!.raw.toString();
      assert.match(raw, /^X-Moat-Virus-Scan: unavailable\r\n/m);
      const r = row(lenient, queueId(passed.response))!;
      assert.match(r.reasons, /clamav\.unavailable/);
    } finally {
      await strict.close();
      await lenient.close();
      await downstream.close();
      await clamd.stop();
    }
  });
});
