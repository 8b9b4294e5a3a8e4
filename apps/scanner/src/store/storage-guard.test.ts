import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createStorageGuard } from './storage-guard.ts';

/** Poll `ok` until it holds (or fail after `ms`). */
async function waitUntil(ok: () => boolean, what: string, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`time-out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const MiB = 1024 * 1024;
const log = pino({ level: 'silent' });

test('below the minimum the guard says why; above it, nothing', async (t) => {
  let free = 50 * MiB;
  const guard = createStorageGuard({ dir: '/x', minFreeBytes: 100 * MiB, intervalMs: 20, log, available: async () => free });
  t.after(() => guard.close());
  await waitUntil(() => guard.lowSpace() !== undefined, 'low space seen');
  assert.equal(guard.lowSpace(), '50 MiB free, below the 100 MiB minimum');
  free = 500 * MiB;
  await waitUntil(() => guard.lowSpace() === undefined, 'space back');
});

test('an ENOSPC write marks the node short at once; other errors do not; the next check clears it', async (t) => {
  let calls = 0;
  const guard = createStorageGuard({ dir: '/x', minFreeBytes: MiB, intervalMs: 60_000, log, available: async () => (calls++, 10 * MiB) });
  t.after(() => guard.close());
  await waitUntil(() => calls === 1, 'the first check');
  guard.noteWriteError(Object.assign(new Error('boom'), { code: 'EIO' }));
  guard.noteWriteError(new Error('no code'));
  assert.equal(guard.lowSpace(), undefined);
  guard.noteWriteError(Object.assign(new Error('disk full'), { code: 'ENOSPC' }));
  assert.equal(guard.lowSpace(), 'a write failed with ENOSPC');
  await waitUntil(() => guard.lowSpace() === undefined, 'rechecked within a second and cleared', 3000);
  assert.equal(calls, 2);
});

test('a failed statfs keeps the last answer', async (t) => {
  let fail = false;
  const guard = createStorageGuard({ dir: '/x', minFreeBytes: 100 * MiB, intervalMs: 20, log, available: async () => { if (fail) throw new Error('EIO'); return 0; } });
  t.after(() => guard.close());
  await waitUntil(() => guard.lowSpace() !== undefined, 'low');
  fail = true;
  await new Promise((r) => setTimeout(r, 100));
  assert.notEqual(guard.lowSpace(), undefined);
});

test('the real file system: the data folder\'s free space is read', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'moat-guard-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const tight = createStorageGuard({ dir, minFreeBytes: Number.MAX_SAFE_INTEGER, intervalMs: 60_000, log });
  const loose = createStorageGuard({ dir, minFreeBytes: 1, intervalMs: 60_000, log });
  t.after(() => (tight.close(), loose.close()));
  await waitUntil(() => tight.lowSpace() !== undefined, 'no disk has that much');
  assert.match(tight.lowSpace()!, /MiB free, below the/);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(loose.lowSpace(), undefined);
});
