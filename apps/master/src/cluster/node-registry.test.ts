import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { openDatabase } from '@moat/storage';
import { MASTER_MIGRATIONS } from '../db/migrations.ts';
import { createNodeRegistry } from './node-registry.ts';

// Found by test/faults: another process holding the database past busy_timeout made the
// deferred heartbeat write throw from its timer, which ended the master.
test('a heartbeat flush that fails (database locked) is reported, not thrown, and written with the next one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moat-registry-'));
  const file = join(dir, 'master.sqlite');
  const db = openDatabase(file, MASTER_MIGRATIONS);
  db.pragma('busy_timeout = 0'); // fail at once instead of after 5 s
  const errors: unknown[] = [];
  const registry = createNodeRegistry(db, (err) => errors.push(err));
  const other = openDatabase(file, MASTER_MIGRATIONS);
  try {
    const { id } = registry.join('s1', 'A'.repeat(43), 1000);
    other.exec('BEGIN EXCLUSIVE');
    registry.heartbeat(id, 2000, 7, 3, 1);
    await sleep(100); // the 25 ms flush timer fires while the lock is held
    assert.equal(errors.length, 1);
    assert.equal((errors[0] as { code?: string }).code, 'SQLITE_BUSY');

    other.exec('ROLLBACK');
    registry.heartbeat(id, 3000, undefined, undefined, undefined);
    await sleep(100);
    assert.equal(errors.length, 1);
    const node = registry.get(id)!;
    assert.deepEqual([node.lastSeen, node.queueDepth, node.outboxBacklog, node.rulesVersion], [3000, 7, 3, 1], 'the failed update was kept and written');
  } finally {
    other.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
