import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '@moat/storage';
import { sqliteDatabase } from '../db/database.ts';
import { MASTER_MIGRATIONS } from '../db/migrations.ts';
import { ENGINES, engineSkip, openTestDatabase } from '../testing/databases.ts';
import { createJoinTokens } from './join-tokens.ts';
import { createNodeRegistry, joinNode } from './node-registry.ts';

const KEY = 'A'.repeat(43);

for (const engine of ENGINES) {
  test(`${engine}: with masters sharing the database, a master's start and a lost link touch only the nodes linked to it`, { skip: engineSkip(engine) }, async (t) => {
    const { db } = await openTestDatabase(engine, t);
    const a = createNodeRegistry(db, undefined, 'master-a');
    const b = createNodeRegistry(db, undefined, 'master-b');
    const onA = await a.join('on-a', KEY, 1000);
    const onB = await a.join('on-b', KEY, 1000);
    await a.connected(onA.id, 1000, '', '', '', 0);
    await b.connected(onB.id, 1000, '', '', '', 0);
    const online = async () => (await a.list()).map((n) => [n.name, n.online]);
    await a.resetOnline('mine');
    assert.deepEqual(await online(), [['on-a', false], ['on-b', true]], 'master A restarting leaves master B\'s node online');
    // The node moves from B to A; B notices its old link died afterwards: the node stays online.
    await a.connected(onB.id, 2000, '', '', '', 0);
    await b.offline(onB.id);
    assert.deepEqual(await online(), [['on-a', false], ['on-b', true]], 'a late offline from the master it left does not count');
    await a.offline(onB.id);
    assert.deepEqual(await online(), [['on-a', false], ['on-b', false]]);
  });

  test(`${engine}: a node joins, re-joins under its id with a new key, goes online and offline in the order asked, and is removed`, { skip: engineSkip(engine) }, async (t) => {
    const { db } = await openTestDatabase(engine, t);
    const registry = createNodeRegistry(db);
    const first = await registry.join('s1', KEY, 1000);
    assert.equal(first.rejoined, false);
    const again = await registry.join('s1', 'B'.repeat(43), 2000);
    assert.deepEqual(again, { id: first.id, rejoined: true });
    assert.equal((await registry.get(first.id))?.publicKey, 'B'.repeat(43));
    assert.equal((await registry.byName('s1'))?.joinedAt, 1000, 'a re-join keeps the node');

    // Asked without waiting, written in that order: the last word is the last one asked.
    const writes = [registry.connected(first.id, 3000, '192.0.2.1', '192.0.2.1:25', 'moat 1', 4), registry.offline(first.id), registry.connected(first.id, 3100, '192.0.2.2', '192.0.2.2:25', 'moat 2', 5)];
    await Promise.all(writes);
    const online = await registry.get(first.id);
    assert.deepEqual([online?.online, online?.address, online?.software, online?.rulesVersion, online?.lastSeen], [true, '192.0.2.2', 'moat 2', 5, 3100]);

    // Heartbeats are gathered; a read sees them at once, each field the latest one given.
    registry.heartbeat(first.id, 4000, 7, 3, undefined);
    registry.heartbeat(first.id, 4100, undefined, 1, undefined);
    registry.rulesApplied(first.id, 6, 4200);
    const beat = await registry.get(first.id);
    assert.deepEqual([beat?.lastSeen, beat?.queueDepth, beat?.outboxBacklog, beat?.rulesVersion], [4200, 7, 1, 6]);

    const other = await registry.join('s2', KEY, 5000);
    await registry.connected(other.id, 5000, '', '', '', 0);
    await registry.resetOnline('all');
    assert.deepEqual((await registry.list()).map((n) => [n.name, n.online]), [['s1', false], ['s2', false]]);

    assert.equal(await registry.remove(other.id, 6000), true);
    assert.equal(await registry.remove(other.id, 6001), false, 'already removed');
    assert.equal(await registry.remove('0000000000000000', 6000), false, 'unknown');
    assert.deepEqual((await registry.list()).map((n) => n.name), ['s1'], 'a removed node leaves the list');
    const removed = await registry.get(other.id);
    assert.deepEqual([removed?.removedAt, removed?.publicKey], [6000, '']);
  });

  test(`${engine}: a join token is used once, for its name, before it expires, and replaces a present node's key only when made to`, { skip: engineSkip(engine) }, async (t) => {
    const { db } = await openTestDatabase(engine, t);
    const tokens = createJoinTokens(db);
    const now = 1_764_000_000_000;
    const mint = async (name: string, replace = false, at = now) => {
      const made = await tokens.mint(name, { ttlSeconds: 3600, replace, createdBy: 'test', now: at });
      assert.ok(made.ok, 'minted');
      return made.minted.token;
    };
    const a = await mint('a');
    assert.deepEqual(await tokens.redeem(a, 'b', now), { ok: false, reason: 'join token is for another node name than b' });
    assert.deepEqual(await tokens.redeem('x'.repeat(43), 'a', now), { ok: false, reason: 'unknown join token' });
    // Two hellos with one token at once: one passes.
    const both = await Promise.all([tokens.redeem(a, 'a', now), tokens.redeem(a, 'a', now)]);
    assert.deepEqual(both.map((r) => r.ok).sort(), [false, true]);
    assert.deepEqual(await tokens.redeem(a, 'a', now), { ok: false, reason: 'join token already used' });
    assert.deepEqual(await tokens.redeem(await mint('late', false, now - 2 * 3600_000), 'late', now), { ok: false, reason: 'join token expired' });

    await joinNode(db, 'a', KEY, now);
    const refused = await tokens.mint('a', { ttlSeconds: 3600, replace: false, createdBy: 'test', now });
    assert.equal(refused.ok, false, 'a token for a present node must say it replaces its key');
    const replacing = await mint('a', true);
    assert.deepEqual(await tokens.redeem(replacing, 'a', now), { ok: true, replace: true });

    // Made before the node joined, without replace: it may not take a present node's key.
    const early = await mint('c');
    await joinNode(db, 'c', KEY, now);
    assert.deepEqual(await tokens.redeem(early, 'c', now), { ok: false, reason: 'node c is in the cluster and the token was not made to replace its key' });
    assert.equal((await db.selectFrom('join_tokens').select('used_at').where('node_name', '=', 'c').executeTakeFirst())?.used_at, null, 'a refused token is not used up');
  });
}

// Found by test/faults: another process holding the database past busy_timeout made the
// deferred heartbeat write throw from its timer, which ended the master.
test('sqlite: a heartbeat flush that fails (database locked) is reported, not thrown, and written with the next one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moat-registry-'));
  const file = join(dir, 'master.sqlite');
  const sqlite = openDatabase(file, MASTER_MIGRATIONS);
  sqlite.pragma('busy_timeout = 0'); // fail at once instead of after 5 s
  const database = sqliteDatabase(sqlite);
  const errors: unknown[] = [];
  let failed!: () => void;
  const firstFailure = new Promise<void>((resolve) => (failed = resolve));
  const registry = createNodeRegistry(database.db, (err) => {
    errors.push(err);
    failed();
  });
  const other = openDatabase(file, MASTER_MIGRATIONS);
  try {
    const { id } = await registry.join('s1', KEY, 1000);
    other.exec('BEGIN EXCLUSIVE');
    registry.heartbeat(id, 2000, 7, 3, 1);
    await firstFailure; // the flush timer fired while the lock was held
    assert.equal(errors.length, 1);
    assert.equal((errors[0] as { code?: string }).code, 'SQLITE_BUSY');

    other.exec('ROLLBACK');
    registry.heartbeat(id, 3000, undefined, undefined, undefined);
    const node = (await registry.get(id))!;
    assert.equal(errors.length, 1);
    assert.deepEqual([node.lastSeen, node.queueDepth, node.outboxBacklog, node.rulesVersion], [3000, 7, 3, 1], 'the failed update was kept and written');
  } finally {
    other.close();
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
