import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HeadBytes, SNIFF_BYTES, sniffType } from './sniff-type.ts';

test('keeps only the first SNIFF_BYTES, across chunks, as copies', () => {
  const head = new HeadBytes();
  const first = Buffer.alloc(3000, 1);
  head.push(first);
  head.push(Buffer.alloc(3000, 2));
  head.push(Buffer.alloc(3000, 3));
  first.fill(9); // the parser reusing its buffer does not change what was kept
  const bytes = head.bytes;
  assert.equal(bytes.length, SNIFF_BYTES);
  assert.equal(bytes[0], 1);
  assert.equal(bytes[2999], 1);
  assert.equal(bytes[3000], 2);
  assert.equal(bytes[SNIFF_BYTES - 1], 2);
});

test('types by magic number; text and nothing are not recognised', async () => {
  const mz = Buffer.concat([Buffer.from('MZ'), Buffer.alloc(200)]);
  const cases: [string, Buffer, { type: string; extension: string } | undefined][] = [
    ['an MZ executable', mz, { type: 'application/x-msdownload', extension: 'exe' }],
    ['a PDF', Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n', 'latin1'), { type: 'application/pdf', extension: 'pdf' }],
    ['an ELF binary', Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]), Buffer.alloc(57)]), { type: 'application/x-elf', extension: 'elf' }],
    ['plain text', Buffer.from('Dear customer, please find attached.'), undefined],
    ['nothing', Buffer.alloc(0), undefined],
  ];
  for (const [name, bytes, want] of cases) assert.deepEqual(await sniffType(bytes), want, name);
});
