import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { analyzeStream, DEFAULT_ANALYZE_LIMITS, UnanalysableMessage } from './analyze.ts';

function nested(depth: number): string {
  let open = '';
  let close = '';
  for (let i = 0; i < depth; i++) {
    open += `Content-Type: multipart/mixed; boundary="n${i}"\r\n\r\n--n${i}\r\n`;
    close = `\r\n--n${i}--${close}`;
  }
  return `Subject: deep\r\n${open}Content-Type: text/plain\r\n\r\ninner text${close}\r\n`;
}

test('a message that never ends is given up after the time-out: UnanalysableMessage analysis-timeout', async () => {
  const source = new PassThrough();
  source.write('Subject: slow\r\nContent-Type: text/plain\r\n\r\nthe body never ends ');
  const err = await analyzeStream(source, { ...DEFAULT_ANALYZE_LIMITS, timeoutMs: 50 }).then(
    () => assert.fail('must not resolve'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof UnanalysableMessage);
  assert.equal(err.reason, 'analysis-timeout');
  assert.ok(source.destroyed, 'the source is closed');
});

test('more than 1000 MIME parts is UnanalysableMessage analysis-limit; 900 nested parts are fine', async () => {
  const err = await analyzeStream(Readable.from([nested(1000)])).then(
    () => assert.fail('must not resolve'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof UnanalysableMessage);
  assert.equal(err.reason, 'analysis-limit');
  assert.equal(err.partial.subject, 'deep');
  const facts = await analyzeStream(Readable.from([nested(900)]));
  assert.match(facts.bodyText, /inner text/);
});

test('a read error is passed on as it is (a local error, not a verdict)', async () => {
  const source = new Readable({ read() { this.destroy(Object.assign(new Error('EIO: disk gone'), { code: 'EIO' })); } });
  await assert.rejects(analyzeStream(source), (e: unknown) => !(e instanceof UnanalysableMessage) && (e as { code?: string }).code === 'EIO');
});

test('an attachment with an empty Content-Type is an octet-stream, not a TypeError (found by fuzzing)', async () => {
  const raw = 'From: a@b.test\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: ; ;;\r\nContent-Disposition: attachment\r\n\r\nx\r\n--b--\r\n';
  const facts = await analyzeStream(Readable.from([Buffer.from(raw)]), { ...DEFAULT_ANALYZE_LIMITS, timeoutMs: 5000 });
  assert.deepEqual(facts.attachments, [{ filename: '', contentType: 'application/octet-stream', sizeBytes: 1, archiveEntries: undefined }]);
});

test('an attachment\'s type is told from its first bytes: an executable sent as invoice.pdf, a real PDF, text', async () => {
  const exe = Buffer.concat([Buffer.from('MZ'), Buffer.alloc(300_000, 0x41)]).toString('base64').replace(/.{76}/g, '$&\r\n');
  const part = (name: string, type: string, body: string, encoding = '7bit') => `--b\r\nContent-Type: ${type}; name="${name}"\r\nContent-Disposition: attachment; filename="${name}"\r\nContent-Transfer-Encoding: ${encoding}\r\n\r\n${body}\r\n`;
  const raw = `From: a@b.test\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n${part('invoice.pdf', 'application/pdf', exe, 'base64')}${part('real.pdf', 'application/pdf', '%PDF-1.4\r\n1 0 obj')}${part('notes.txt', 'text/plain', 'just words')}--b--\r\n`;
  const facts = await analyzeStream(Readable.from([Buffer.from(raw)]), { ...DEFAULT_ANALYZE_LIMITS, timeoutMs: 5000 });
  const byName = new Map(facts.attachments.map((a) => [a.filename, a]));
  assert.equal(byName.get('invoice.pdf')!.detectedType, 'application/x-msdownload');
  assert.equal(byName.get('invoice.pdf')!.detectedExtension, 'exe');
  assert.equal(byName.get('invoice.pdf')!.sizeBytes, 300_002, 'the whole part was counted, only its start kept');
  assert.equal(byName.get('real.pdf')!.detectedType, 'application/pdf');
  assert.equal(byName.get('notes.txt')!.detectedType, undefined);
});
