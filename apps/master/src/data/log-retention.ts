import { sql, type Kysely } from 'kysely';
import type { Engine } from '../db/database.ts';
import type { MasterSchema } from '../db/schema.ts';
import { inChunks } from './in-chunks.ts';
import { dayOf, listLogPartitions } from './log-partitions.ts';
import { unindexText } from './text-search.ts';
import { DAY_MS } from './time-buckets.ts';

export interface PruneResult {
  /** Day partitions dropped whole (PostgreSQL). */
  readonly partitionsDropped: number;
  /** Log entries deleted row by row (SQLite; on PostgreSQL those of a day the boundary cuts). */
  readonly rowsDeleted: number;
}

/** Entries deleted per transaction on SQLite: the one writer is not held for long. */
const ROWS_PER_TRANSACTION = 2_000;
/** How long dropping a partition waits for its lock (it takes ACCESS EXCLUSIVE on the log) before giving up until the next run. */
const DROP_LOCK_TIMEOUT = '5s';

/**
 * Removes the message log's entries received before `before` (epoch ms), with their
 * recipients and their place in the id→day index. The roll-ups stay: reports over older
 * ranges still answer.
 *
 * PostgreSQL: every day partition wholly before `before` is dropped (its `message_ids` rows
 * deleted first, found through the partition), one transaction per day, each waiting at most
 * DROP_LOCK_TIMEOUT for its lock; a day the boundary cuts keeps its partition and loses the
 * rows before it. A whole-day boundary (what a retention in days gives) deletes no rows.
 * SQLite: rows, oldest first, ROWS_PER_TRANSACTION at a time.
 */
export async function pruneMessageLog(db: Kysely<MasterSchema>, engine: Engine, before: number): Promise<PruneResult> {
  return engine === 'postgres' ? prunePartitions(db, before) : pruneRows(db, before);
}

async function prunePartitions(db: Kysely<MasterSchema>, before: number): Promise<PruneResult> {
  let partitionsDropped = 0;
  for (const p of await listLogPartitions(db, 'postgres')) {
    if (p.day + DAY_MS > before) break;
    await db.transaction().execute(async (trx) => {
      await sql`SET LOCAL lock_timeout = ${sql.lit(DROP_LOCK_TIMEOUT)}`.execute(trx);
      await sql`DELETE FROM message_ids k USING ${sql.table(p.messages)} m WHERE k.id = m.id AND k.node_id = m.node_id`.execute(trx);
      await sql`DROP TABLE ${sql.table(p.messages)}, ${sql.table(p.rcpts)}`.execute(trx);
    });
    partitionsDropped++;
  }
  const from = dayOf(before);
  if (from === before) return { partitionsDropped, rowsDeleted: 0 };
  const rowsDeleted = await db.transaction().execute(async (trx) => {
    await sql`DELETE FROM message_ids k USING messages m WHERE m.received_at >= ${from} AND m.received_at < ${before} AND k.id = m.id AND k.node_id = m.node_id`.execute(trx);
    await trx.deleteFrom('message_rcpts').where('received_at', '>=', from).where('received_at', '<', before).execute();
    const res = await trx.deleteFrom('messages').where('received_at', '>=', from).where('received_at', '<', before).executeTakeFirst();
    return Number(res.numDeletedRows);
  });
  return { partitionsDropped, rowsDeleted };
}

async function pruneRows(db: Kysely<MasterSchema>, before: number): Promise<PruneResult> {
  let rowsDeleted = 0;
  for (;;) {
    const deleted = await db.transaction().execute(async (trx) => {
      const rows = await trx.selectFrom('messages').select(['rid', 'received_at', 'rcpt_to']).where('received_at', '<', before)
        .orderBy('received_at').limit(ROWS_PER_TRANSACTION).execute();
      // Each recipient row by its key (rcpt, received_at, rid): the table has no index on the time alone.
      const rcpts = rows.flatMap((r) => (JSON.parse(r.rcpt_to) as string[]).map((rcpt) => ({ rcpt, received_at: r.received_at, rid: r.rid })));
      await inChunks(rcpts, (chunk) => trx.deleteFrom('message_rcpts').where((eb) => eb.or(chunk.map((k) => eb.and([eb('rcpt', '=', k.rcpt), eb('received_at', '=', k.received_at), eb('rid', '=', k.rid)])))).execute(), 200);
      const rids = rows.map((r) => r.rid);
      await unindexText(trx, 'sqlite', 'messages', rids);
      await inChunks(rids, (chunk) => trx.deleteFrom('messages').where('rid', 'in', chunk).execute());
      return rows.length;
    });
    rowsDeleted += deleted;
    if (deleted < ROWS_PER_TRANSACTION) return { partitionsDropped: 0, rowsDeleted };
  }
}
