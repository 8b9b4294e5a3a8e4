import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { openDatabase } from '@moat/storage';
import { MASTER_MIGRATIONS } from '../db/migrations.ts';
import { createGreylistStore } from './greylist-store.ts';

const times = { delaySeconds: 60, expirySeconds: 600, passSeconds: 3600 };
const t = { network: '192.0.2.0/24', sender: 'a@origin.test', recipient: 'u@example.test' };

function withStore(fn: (store: ReturnType<typeof createGreylistStore>, reopen: () => ReturnType<typeof createGreylistStore>) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'moat-greylist-'));
  const path = join(dir, 'master.sqlite');
  let db = openDatabase(path, MASTER_MIGRATIONS);
  try {
    fn(createGreylistStore(db), () => {
      db.close();
      db = openDatabase(path, MASTER_MIGRATIONS);
      return createGreylistStore(db);
    });
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the master keeps triplets in SQLite: deferred, still deferred, passed after the delay, across a restart', () => {
  withStore((store, reopen) => {
    const t0 = 1_700_000_000_000;
    assert.equal(store.check(t, times, t0).pass, false);
    assert.equal(store.check(t, times, t0 + 30_000).retryInSeconds, 30);
    const restarted = reopen();
    assert.equal(restarted.count(), 1);
    const d = restarted.check(t, times, t0 + 60_000);
    assert.equal(d.pass, true);
    assert.deepEqual(d.entry, { firstSeen: t0, passedAt: t0 + 60_000, expiresAt: t0 + 60_000 + 3_600_000 });
    assert.equal(restarted.check({ ...t, recipient: 'other@example.test' }, times, t0 + 60_000).pass, false, 'another recipient is another triplet');
  });
});

test('the sweep removes expired triplets only', () => {
  withStore((store) => {
    const t0 = 1_700_000_000_000;
    store.check(t, times, t0); // deferred: expires at t0 + 600 s
    store.check({ ...t, sender: 'b@origin.test' }, times, t0 + 500_000); // expires at t0 + 1100 s
    assert.equal(store.sweep(t0 + 599_999), 0);
    assert.equal(store.sweep(t0 + 600_000), 1);
    assert.equal(store.count(), 1);
    assert.equal(store.check(t, times, t0 + 700_000).pass, false, 'a swept triplet starts over');
  });
});
