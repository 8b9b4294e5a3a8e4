import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { ENGINES, engineSkip } from '../testing/databases.ts';
import { createLogPartitions, dayOf, listLogPartitions } from '../data/log-partitions.ts';
import { searchMessages } from '../data/messages-repository.ts';
import { searchQuarantine } from '../data/quarantine-repository.ts';
import { textStrategy } from '../data/text-search.ts';
import { addNode, count, msgId, openDatabaseBefore, T0 } from '../data/test-fixtures.ts';
import { DAY_MS } from '../data/time-buckets.ts';

const NODE = 'aaaaaaaaaaaaaaaa';
/** Rows stored before migration 24: sender, recipients (as stored: lower-cased, a JSON array). */
const ROWS = [
  { from: 'alice@one.test', rcpt: ['ops@corp.test'] },
  { from: 'bob@two.test', rcpt: ['ops@corp.test', 'sales@corp.test'] },
  { from: 'carol@one.test', rcpt: ['sales@corp.test'] },
] as const;

for (const engine of ENGINES) {
  test(`${engine}: migration 24 indexes the addresses of the log and quarantine rows stored before it`, { skip: engineSkip(engine) }, async (t) => {
    const { database, migrateRest } = await openDatabaseBefore(engine, 24, t);
    const { db } = database;
    await addNode(db, NODE, 'scanner-a');
    const at = (i: number) => T0 + i * 60_000;
    if (engine === 'postgres') await sql`SELECT moat_log_partition(${dayOf(T0)})`.execute(db);
    for (const [i, r] of ROWS.entries()) {
      const rcptTo = JSON.stringify(r.rcpt);
      await sql`INSERT INTO messages (rid, node_id, id, received_at, client_ip, helo, mail_from, sender_domain, rcpt_to, first_rcpt, rcpt_count, subject, message_id, size,
        action, score, reasons, rules_version, status) VALUES (${i + 1}, ${NODE}, ${msgId(i + 1)}, ${at(i)}, '192.0.2.1', 'h', ${r.from}, ${r.from.split('@')[1]}, ${rcptTo},
        ${r.rcpt[0]}, ${r.rcpt.length}, 'old', '<x>', 10, 'deliver', 1, '[]', 1, 'queued')`.execute(db);
      await sql`INSERT INTO quarantine (rid, node_id, id, file, created_at, mail_from, sender_domain, rcpt_to, first_rcpt, rcpt_count, subject, size, score, reasons)
        VALUES (${i + 1}, ${NODE}, ${msgId(i + 1)}, 'f.eml', ${at(i)}, ${r.from}, ${r.from.split('@')[1]}, ${rcptTo}, ${r.rcpt[0]}, ${r.rcpt.length}, 'old', 10, 9, '[]')`.execute(db);
    }
    await migrateRest();

    const ids = async (found: Promise<{ items: { id: string }[] }>) => (await found).items.map((i) => i.id);
    // Newest first: carol (3), bob (2), alice (1).
    assert.deepEqual(await ids(searchMessages(db, engine, { sender: 'ONE.TEST', match: 'contains' })), [msgId(3), msgId(1)]);
    assert.deepEqual(await ids(searchMessages(db, engine, { recipient: 'sales', match: 'contains' })), [msgId(3), msgId(2)]);
    assert.deepEqual(await ids(searchMessages(db, engine, { recipient: '@corp.test' })), [msgId(3), msgId(2), msgId(1)]);
    assert.deepEqual(await ids(searchQuarantine(db, engine, { sender: 'bob@', match: 'contains' })), [msgId(2)]);
    assert.deepEqual(await ids(searchQuarantine(db, engine, { recipient: 'ops@', match: 'contains' })), [msgId(2), msgId(1)]);

    if (engine === 'sqlite') {
      // Found through the index, which holds every old row.
      assert.equal((await textStrategy(db, engine, 'messages', 'sender', 'one.test')).strategy, 'index');
      const listed = (fts: string, term: string) => count(db, `SELECT COUNT(*) FROM ${fts} WHERE ${fts} MATCH '"${term}"'`);
      assert.equal(await listed('messages_sender_fts', 'one.test'), 2);
      assert.equal(await listed('messages_rcpt_fts', 'corp.test'), 3);
      assert.equal(await listed('quarantine_sender_fts', 'two.test'), 1);
      assert.equal(await listed('quarantine_rcpt_fts', 'sales@'), 2);
      return;
    }
    // PostgreSQL: the index is on every day partition of the log, those made before and those made after it.
    await createLogPartitions('postgres', () => T0 + 10 * DAY_MS).ensure(db, []);
    const partitions = await listLogPartitions(db, 'postgres');
    assert.equal(partitions.length, 3, "T0's day, and today's and tomorrow's made now");
    const trgm = (table: string) => count(db, `SELECT COUNT(*) FROM pg_indexes WHERE tablename = '${table}' AND indexdef LIKE '%USING gin (mail_from gin_trgm_ops, rcpt_to gin_trgm_ops)'`);
    for (const p of partitions) assert.equal(await trgm(p.messages), 1, p.messages);
    assert.equal(await trgm('quarantine'), 1);
    // And it serves a substring LIKE (the plan PostgreSQL picks once a sequential read costs more than it).
    await db.transaction().execute(async (trx) => {
      await sql`SET LOCAL enable_seqscan = off`.execute(trx);
      for (const table of ['quarantine', partitions[0]!.messages]) {
        const { rows } = await sql<{ 'QUERY PLAN': string }>`EXPLAIN SELECT rid FROM ${sql.table(table)} WHERE mail_from LIKE '%one.test%' AND rcpt_to LIKE '%sales%'`.execute(trx);
        assert.match(rows.map((r) => r['QUERY PLAN']).join('\n'), /Bitmap Index Scan on \w+(address_trgm|mail_from_rcpt_to_idx)/, table);
      }
    });
  });
}
