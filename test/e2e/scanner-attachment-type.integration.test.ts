import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedScanner } from '../helpers/scanner-harness.ts';
import { sendMail } from '../helpers/smtp-client.ts';
import { withAttachment } from '../helpers/zip.ts';

const envelope = { from: 'billing@supplier.test', to: ['user@example.test'] };
const ctx = sharedScanner();
const reasonsOf = (subject: string) =>
  JSON.parse((ctx.node.scanner.db.prepare('SELECT reasons FROM messages WHERE subject = ?').get(subject) as { reasons: string }).reasons) as { rule: string; match: string; action?: string }[];

/** A Windows executable's start (MZ header, PE offset) and enough body that only its start is read. */
const executable = Buffer.concat([Buffer.from('MZ'), Buffer.alloc(58), Buffer.from([0x80, 0, 0, 0]), Buffer.alloc(200_000, 0x90)]);

test('an executable disguised as invoice.pdf (application/pdf) is refused by its content: attachments.detectedType', async () => {
  const result = await sendMail(ctx.node.port, envelope, withAttachment({ subject: 'disguised', filename: 'invoice.pdf', contentType: 'application/pdf', data: executable }));
  assert.equal(result.code, 550, result.response);
  const reason = reasonsOf('disguised').find((r) => r.rule === 'attachments.detectedType');
  assert.ok(reason, JSON.stringify(reasonsOf('disguised')));
  assert.equal(reason.match, 'invoice.pdf: declared application/pdf, detected application/x-msdownload (.exe)');
  assert.equal(reason.action, 'reject');
});

test('a PDF that is a PDF passes', async () => {
  const pdf = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n');
  const before = ctx.downstream.received.length;
  const result = await sendMail(ctx.node.port, envelope, withAttachment({ subject: 'real pdf', filename: 'invoice.pdf', contentType: 'application/pdf', data: pdf }));
  assert.match(result.response, /^250 /);
  await ctx.downstream.waitFor(before + 1);
  assert.deepEqual(reasonsOf('real pdf').filter((r) => r.rule.startsWith('attachments')), []);
});
