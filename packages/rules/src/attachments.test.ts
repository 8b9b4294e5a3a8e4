import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { attachmentReasons, extensionsOf } from './attachments.ts';
import type { AttachmentFact } from './facts.ts';
import { compiled } from './test-fixtures.ts';

const policy = compiled({ attachments: { blockedMimeTypes: ['application/x-msdownload', 'application/java-archive'] } }).attachments;

function rule(attachment: Partial<AttachmentFact>, p = policy): string | undefined {
  const fact = { filename: '', contentType: 'application/octet-stream', sizeBytes: 1, ...attachment };
  return attachmentReasons(p, [fact])[0]?.rule;
}

describe('attachment policy', () => {
  const cases: [string, Partial<AttachmentFact>, string | undefined][] = [
    ['a document', { filename: 'report.pdf' }, undefined],
    ['no name', { filename: '' }, undefined],
    ['blocked extension', { filename: 'setup.exe' }, 'attachments.blockedExtensions'],
    ['blocked extension, upper case', { filename: 'SETUP.EXE' }, 'attachments.blockedExtensions'],
    ['blocked extension with a trailing dot', { filename: 'setup.exe.' }, 'attachments.blockedExtensions'],
    ['blocked extension with trailing spaces', { filename: 'setup.exe  ' }, 'attachments.blockedExtensions'],
    ['blocked extension behind a path', { filename: 'C:\\temp\\setup.exe' }, 'attachments.blockedExtensions'],
    ['exe in the middle only', { filename: 'setup.exe.txt' }, undefined],
    ['double extension', { filename: 'invoice.pdf.exe' }, 'attachments.blockDoubleExtensions'],
    ['double extension with padding', { filename: 'invoice.pdf      .scr' }, 'attachments.blockDoubleExtensions'],
    ['double extension further back', { filename: 'invoice.docx.2024.js' }, 'attachments.blockDoubleExtensions'],
    ['two harmless extensions', { filename: 'backup.tar.gz' }, undefined],
    ['blocked MIME type', { filename: 'file.bin', contentType: 'application/x-msdownload' }, 'attachments.blockedMimeTypes'],
    ['blocked MIME type with parameters', { filename: 'a', contentType: 'Application/Java-Archive; name=a' }, 'attachments.blockedMimeTypes'],
    ['blocked name inside an archive', { filename: 'docs.zip', archiveEntries: ['readme.txt', 'sub/run.vbs'] }, 'attachments.scanArchives'],
    ['double extension inside an archive', { filename: 'docs.zip', archiveEntries: ['invoice.pdf.exe'] }, 'attachments.scanArchives'],
    ['harmless archive', { filename: 'docs.zip', archiveEntries: ['a.pdf', 'b.docx'] }, undefined],
    // What the first bytes show.
    ['an executable disguised as a PDF', { filename: 'invoice.pdf', contentType: 'application/pdf', detectedType: 'application/x-msdownload', detectedExtension: 'exe' }, 'attachments.detectedType'],
    ['a blocked detected type alone', { filename: 'a.dat', detectedType: 'application/java-archive' }, 'attachments.detectedType'],
    ['a detected extension alone', { filename: 'a.dat', detectedType: 'application/x-ms-shortcut', detectedExtension: 'LNK' }, 'attachments.detectedType'],
    ['a PDF that is a PDF', { filename: 'invoice.pdf', contentType: 'application/pdf', detectedType: 'application/pdf', detectedExtension: 'pdf' }, undefined],
    ['a detected type that is not blocked', { filename: 'a.bin', detectedType: 'application/x-elf', detectedExtension: 'elf' }, undefined],
    ['nothing detected', { filename: 'notes.txt', contentType: 'text/plain' }, undefined],
    ['the name rule comes first', { filename: 'setup.exe', detectedType: 'application/x-msdownload', detectedExtension: 'exe' }, 'attachments.blockedExtensions'],
    ['the declared type comes first', { filename: 'a', contentType: 'application/x-msdownload', detectedType: 'application/x-msdownload', detectedExtension: 'exe' }, 'attachments.blockedMimeTypes'],
  ];
  for (const [name, attachment, expected] of cases) it(`${name} → ${expected ?? 'passes'}`, () => assert.equal(rule(attachment), expected));

  it('a detected type reason names the declared and the detected type', () => {
    const [reason] = attachmentReasons(policy, [{ filename: 'invoice.pdf', contentType: 'application/pdf; name=invoice.pdf', sizeBytes: 9, detectedType: 'application/x-msdownload', detectedExtension: 'exe' }]);
    assert.deepEqual(reason, { kind: 'attachment', action: 'reject', rule: 'attachments.detectedType', match: 'invoice.pdf: declared application/pdf, detected application/x-msdownload (.exe)' });
  });
  it('the detected extension follows blockedExtensions', () => {
    const p = compiled({ attachments: { blockedExtensions: ['scr'], blockedMimeTypes: [] } }).attachments;
    assert.equal(rule({ filename: 'a.pdf', detectedType: 'application/x-msdownload', detectedExtension: 'exe' }, p), undefined);
  });
  it('archive entries are ignored when scanArchives is off', () => {
    const p = compiled({ attachments: { scanArchives: false } }).attachments;
    assert.equal(rule({ filename: 'docs.zip', archiveEntries: ['run.exe'] }, p), undefined);
  });
  it('blockDoubleExtensions off still blocks by the last extension', () => {
    const p = compiled({ attachments: { blockDoubleExtensions: false } }).attachments;
    assert.equal(rule({ filename: 'invoice.pdf.exe' }, p), 'attachments.blockedExtensions');
  });
  it('an empty extension list blocks no name', () => {
    const p = compiled({ attachments: { blockedExtensions: [] } }).attachments;
    assert.equal(rule({ filename: 'setup.exe' }, p), undefined);
  });
  it('gives one reason per attachment, with the policy action and the file name', () => {
    const reasons = attachmentReasons(policy, [
      { filename: 'a.exe', contentType: 'application/x-msdownload', sizeBytes: 1 },
      { filename: 'b.pdf', contentType: 'application/pdf', sizeBytes: 1 },
      { filename: 'c.zip', contentType: 'application/zip', sizeBytes: 1, archiveEntries: ['x.exe', 'y.exe'] },
    ]);
    assert.deepEqual(reasons.map((r) => [r.rule, r.match, r.action]), [
      ['attachments.blockedExtensions', 'a.exe', 'reject'],
      ['attachments.scanArchives', 'c.zip: x.exe', 'reject'],
    ]);
  });
  it('extensionsOf drops the base name', () => {
    assert.deepEqual(extensionsOf('a.B.c'), ['b', 'c']);
    assert.deepEqual(extensionsOf('noext'), []);
  });
});
