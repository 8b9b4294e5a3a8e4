import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { readMessageFile, SMALL_FILE_BYTES } from './buffer-garbage.ts';

const dir = mkdtempSync(join(tmpdir(), 'moat-read-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('a message file reads back byte for byte, whether small (one chunk) or streamed', async () => {
  for (const size of [0, 1, 10_240, SMALL_FILE_BYTES, SMALL_FILE_BYTES + 1, 3 * SMALL_FILE_BYTES + 17]) {
    const bytes = Buffer.alloc(size);
    for (let i = 0; i < size; i++) bytes[i] = (i * 31 + 7) & 0xff;
    const path = join(dir, `m-${size}.eml`);
    writeFileSync(path, bytes);
    const chunks: Buffer[] = [];
    const stream = readMessageFile(path);
    stream.on('data', (c: Buffer) => chunks.push(c));
    await new Promise((resolve, reject) => stream.on('end', resolve).on('error', reject));
    assert.ok(Buffer.concat(chunks).equals(bytes), `size ${size}`);
    if (size > 0 && size <= SMALL_FILE_BYTES) assert.equal(chunks.length, 1, `size ${size} comes in one chunk`);
    if (size > SMALL_FILE_BYTES) assert.ok(chunks.length > 1, `size ${size} is streamed`);
  }
});

test('a missing file is an error on the stream, not a throw', async () => {
  const stream = readMessageFile(join(dir, 'gone.eml'));
  await assert.rejects(buffer(stream), { code: 'ENOENT' });
});
