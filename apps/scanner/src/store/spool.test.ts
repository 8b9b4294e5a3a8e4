import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { receiveToSpool } from './spool.ts';
import { SMALL_FILE_BYTES } from '../memory/buffer-garbage.ts';

const dir = mkdtempSync(join(tmpdir(), 'moat-spool-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function message(size: number): Buffer {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 13 + 5) & 0xff;
  return bytes;
}

/** The message in chunks of `chunk` bytes, as smtp-server's DATA stream hands them over. */
function chunked(bytes: Buffer, chunk: number): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunk) parts.push(bytes.subarray(i, i + chunk));
  return Readable.from(parts);
}

test('DATA lands in the spool file byte for byte, small (held, written at once) or large (streamed), mode 0600', async () => {
  for (const [size, chunk] of [[0, 1], [10_240, 4096], [SMALL_FILE_BYTES, 65_536], [SMALL_FILE_BYTES + 1, 1000], [1_000_000, 65_536]] as const) {
    const bytes = message(size);
    const path = join(dir, `m-${size}.eml`);
    const { size: counted } = await receiveToSpool(chunked(bytes, chunk), path);
    assert.equal(counted, size);
    assert.ok(readFileSync(path).equals(bytes), `size ${size}`);
    assert.equal(statSync(path).mode & 0o777, 0o600);
  }
});

test('a spool name that exists is refused and left as it was', async () => {
  const path = join(dir, 'taken.eml');
  writeFileSync(path, 'earlier');
  await assert.rejects(receiveToSpool(chunked(message(100), 10), path), { code: 'EEXIST' });
  assert.equal(readFileSync(path, 'utf8'), 'earlier');
});

test('a client that breaks off mid-DATA rejects, small or past the threshold', async () => {
  for (const before of [1000, SMALL_FILE_BYTES + 1000]) {
    const data = new PassThrough();
    const path = join(dir, `broken-${before}.eml`);
    const receiving = receiveToSpool(data, path);
    data.write(message(before));
    await new Promise((r) => setTimeout(r, 10));
    data.destroy(new Error('connection reset'));
    await assert.rejects(receiving, /connection reset/);
    // What was written is partial: the caller removes it (ingress does).
    assert.equal(existsSync(path), true);
  }
});
