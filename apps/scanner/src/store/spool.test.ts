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

test('past maxBytes nothing more is written: the file is removed at once and the rest is read and counted', async () => {
  for (const [limit, chunk] of [[1000, 100], [SMALL_FILE_BYTES - 10, 4096], [SMALL_FILE_BYTES * 4, 65_536]] as const) {
    const total = limit * 3 + 17;
    const path = join(dir, `over-${limit}.eml`);
    const data = new PassThrough();
    let largest = 0;
    let settled = false;
    const receiving = receiveToSpool(data, path, { maxBytes: limit }).finally(() => (settled = true));
    // The file is made as DATA begins (in the thread pool: how soon depends on the machine).
    await until(() => existsSync(path), `limit ${limit}: the spool file is made`);
    let sent = 0;
    while (sent < total) {
      const part = message(Math.min(chunk, total - sent));
      if (!data.write(part)) await new Promise((r) => data.once('drain', r));
      sent += part.length;
      await new Promise((r) => setImmediate(r));
      // One stat, which may find the file already gone: the spool unlinks it in the thread pool.
      largest = Math.max(largest, statSync(path, { throwIfNoEntry: false })?.size ?? 0);
      if (sent > limit && sent < total * 0.75) {
        // Past the limit, with a quarter of the message still to come: the file goes now.
        await until(() => !existsSync(path), `limit ${limit}: removed while the data still came`);
        assert.equal(settled, false, `limit ${limit}: still reading`);
      }
    }
    data.end();
    const { size, oversized } = await receiving;
    assert.equal(size, total, `limit ${limit}: every byte read`);
    assert.equal(oversized, true);
    assert.equal(existsSync(path), false);
    assert.ok(largest <= limit, `limit ${limit}: at most the limit on disk (saw ${largest})`);
  }
});

/** Polls `ok` every few milliseconds until it holds (at most 10 s): the spool's file work runs in the thread pool. */
async function until(ok: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!ok()) {
    if (Date.now() > deadline) assert.fail(`${what}: not within 10 s`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('a message of exactly maxBytes is kept', async () => {
  const bytes = message(5000);
  const path = join(dir, 'exact.eml');
  const { size, oversized } = await receiveToSpool(chunked(bytes, 700), path, { maxBytes: 5000 });
  assert.equal(size, 5000);
  assert.equal(oversized, false);
  assert.ok(readFileSync(path).equals(bytes));
});
