import type { Insertable, Kysely } from 'kysely';
import type { Engine } from '../db/database.ts';
import type { MasterSchema } from '../db/schema.ts';
import type { MessagesTable } from '../db/tables/data.ts';

/**
 * Writes the message log's rows, the one step where the engines' logs differ (migration 22).
 * A node names a message by (id, node_id), which must be unique in the log (a second entry of
 * a message is skipped: the first counted in the roll-ups).
 *
 * SQLite: one `messages` table, unique on (id, node_id), numbering its rids itself.
 * PostgreSQL: `messages` is partitioned by day, and a key of a partitioned table must hold the
 * day, so (id, node_id) is claimed in `message_ids` (the id→day index, which also numbers the
 * rids), and only the entries claimed now go into the log. Reads find a message by id through
 * `message_ids` on both engines (a view on SQLite): `locateEntries`, then the rows by their key.
 *
 * `rows`: at most a statement's worth (in-chunks.ts), the day partitions already ensured.
 * Returns the (rid, id) of the rows inserted now, the first of each id.
 */
export async function insertLogEntries(db: Kysely<MasterSchema>, engine: Engine, rows: readonly Insertable<MessagesTable>[]): Promise<{ rid: number; id: string }[]> {
  if (rows.length === 0) return [];
  if (engine === 'sqlite') {
    return db.insertInto('messages').values([...rows]).onConflict((oc) => oc.columns(['id', 'node_id']).doNothing()).returning(['rid', 'id']).execute();
  }
  const claimed = await db.insertInto('message_ids').values(rows.map((r) => ({ id: r.id, node_id: r.node_id, received_at: r.received_at })))
    .onConflict((oc) => oc.columns(['id', 'node_id']).doNothing()).returning(['rid', 'id', 'node_id']).execute();
  const rids = new Map(claimed.map((c) => [`${c.node_id}\0${c.id}`, c.rid]));
  const fresh = rows.flatMap((r) => {
    const key = `${r.node_id}\0${r.id}`;
    const rid = rids.get(key);
    if (rid === undefined) return [];
    rids.delete(key);
    return [{ ...r, rid }];
  });
  if (fresh.length > 0) await db.insertInto('messages').values(fresh).execute();
  return fresh.map((r) => ({ rid: r.rid, id: r.id }));
}

/**
 * Where a node's messages are in the log: their (received_at, rid), from the id→day index.
 * Reading the rows with those values as constants lets PostgreSQL plan only their days'
 * partitions (a join to the index would be planned over every partition).
 */
export async function locateEntries(db: Kysely<MasterSchema>, nodeId: string, ids: readonly string[]): Promise<{ id: string; received_at: number; rid: number }[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('message_ids').select(['id', 'received_at', 'rid']).where('node_id', '=', nodeId).where('id', 'in', [...ids]).execute();
}
