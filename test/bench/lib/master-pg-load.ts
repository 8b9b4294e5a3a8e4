/**
 * The master benchmark's bulk loader for PostgreSQL: the same seeded mail as the SQLite loader
 * (master-data-generate.ts: the same generator calls in the same order, so both engines hold
 * the same rows), written with `INSERT … SELECT FROM unnest(arrays)` (10,000 rows a statement),
 * secondary indexes dropped during the load and rebuilt after; recipients, the id→day index
 * and the idempotency records filled with INSERT … SELECT; roll-ups through the ingest's own
 * code (createRollups). Preparation, not a figure.
 */
import { sql, type Kysely } from 'kysely';
import type { MasterSchema } from '../../../apps/master/src/db/schema.ts';
import { createRollups } from '../../../apps/master/src/data/rollups.ts';
import { createLogPartitions, dayOf } from '../../../apps/master/src/data/log-partitions.ts';
import { DAY_MS } from '../../../apps/master/src/data/time-buckets.ts';
import { bulkMessage, bulkQuarantined, mailMaker, rng, type LoadSpec } from '../master-data-generate.ts';

const CHUNK = 10_000;

type Column = readonly [name: string, type: string];

/** One multi-row INSERT of `rows` (arrays in `columns` order), the columns passed as one array each. */
async function unnestInsert(db: Kysely<MasterSchema>, table: string, columns: readonly Column[], rows: readonly unknown[][]): Promise<void> {
  if (rows.length === 0) return;
  const arrays = columns.map((_, i) => rows.map((r) => r[i]));
  await sql`INSERT INTO ${sql.table(table)} (${sql.join(columns.map(([n]) => sql.ref(n)))})
    SELECT * FROM unnest(${sql.join(columns.map(([, type], i) => sql`${arrays[i]}::${sql.raw(type)}[]`))})`.execute(db);
}

/** Run `load` with the table's secondary indexes dropped (on a partitioned table: on every partition), then build them again. */
async function withoutIndexes(db: Kysely<MasterSchema>, table: string, load: () => Promise<void>): Promise<void> {
  const { rows } = await sql<{ name: string; def: string }>`SELECT i.relname AS name, pg_get_indexdef(i.oid) AS def FROM pg_index x
    JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = to_regclass(${table}) AND NOT x.indisprimary AND NOT x.indisunique`.execute(db);
  for (const ix of rows) await sql`DROP INDEX ${sql.ref(ix.name)}`.execute(db);
  await load();
  // pg_get_indexdef says ON ONLY for a partitioned table's index: without ONLY, it is built on every partition again.
  for (const ix of rows) await sql.raw(ix.def.replace(' ON ONLY ', ' ON ')).execute(db);
}

const MESSAGE_COLUMNS: readonly Column[] = [
  ['rid', 'bigint'], ['node_id', 'text'], ['id', 'text'], ['received_at', 'bigint'], ['client_ip', 'text'], ['helo', 'text'], ['mail_from', 'text'],
  ['sender_domain', 'text'], ['rcpt_to', 'text'], ['first_rcpt', 'text'], ['rcpt_count', 'int'], ['subject', 'text'], ['message_id', 'text'], ['size', 'bigint'],
  ['action', 'text'], ['score', 'float8'], ['reasons', 'text'], ['rules_version', 'bigint'], ['status', 'text'], ['attempts', 'int'], ['delivered', 'text'],
];

/** Message log rows (and everything hanging off them), as bulkLoadMessages does on SQLite. Returns the highest seq used. */
export async function bulkLoadMessagesPg(db: Kysely<MasterSchema>, spec: LoadSpec): Promise<number> {
  const make = mailMaker(spec.seed);
  const r = rng(spec.seed + 1);
  const baseRid = Number((await sql<{ n: number }>`SELECT COALESCE(MAX(rid), 0) AS n FROM message_ids`.execute(db)).rows[0]!.n);
  const days: number[] = [];
  for (let d = dayOf(spec.start); d < spec.end; d += DAY_MS) days.push(d);
  await db.transaction().execute((trx) => createLogPartitions('postgres').ensure(trx, days));
  await withoutIndexes(db, 'messages', async () => {
    for (let from = 0; from < spec.count; from += CHUNK) {
      const to = Math.min(spec.count, from + CHUNK);
      await db.transaction().execute(async (trx) => {
        const rollups = createRollups(trx);
        const rows: unknown[][] = [];
        for (let i = from; i < to; i++) {
          const { row, rollup } = bulkMessage(make, r, spec, i, baseRid + i + 1);
          rows.push(row);
          rollups.add(rollup);
        }
        await unnestInsert(trx, 'messages', MESSAGE_COLUMNS, rows);
        await rollups.flush();
      });
      spec.onProgress?.(to);
    }
  });
  await sql`INSERT INTO message_ids (id, node_id, received_at, rid) OVERRIDING SYSTEM VALUE
    SELECT id, node_id, received_at, rid FROM messages WHERE rid > ${baseRid} ORDER BY id, node_id`.execute(db);
  await sql`SELECT setval(pg_get_serial_sequence('message_ids', 'rid'), ${baseRid + spec.count + 1}, false)`.execute(db);
  await sql`INSERT INTO message_rcpts (rcpt, received_at, rid) SELECT DISTINCT j, m.received_at, m.rid FROM messages m, json_array_elements_text(m.rcpt_to::json) j
    WHERE m.rid > ${baseRid}`.execute(db);
  await sql`INSERT INTO events (node_id, epoch, seq, digest, type, created_at, stored_at)
    SELECT node_id, '', rid, '', 'message.logged', received_at, received_at FROM messages WHERE rid > ${baseRid} ORDER BY 1, 3`.execute(db);
  return baseRid + spec.count;
}

const QUARANTINE_COLUMNS: readonly Column[] = [
  ['rid', 'bigint'], ['node_id', 'text'], ['id', 'text'], ['file', 'text'], ['created_at', 'bigint'], ['mail_from', 'text'], ['sender_domain', 'text'],
  ['rcpt_to', 'text'], ['first_rcpt', 'text'], ['rcpt_count', 'int'], ['subject', 'text'], ['size', 'bigint'], ['score', 'float8'], ['reasons', 'text'],
  ['status', 'text'], ['status_at', 'bigint'],
];

/** Quarantine index rows as bulkLoadQuarantine writes them on SQLite (`bulkQuarantined`), with recipients. */
export async function bulkLoadQuarantinePg(db: Kysely<MasterSchema>, spec: LoadSpec): Promise<void> {
  const make = mailMaker(spec.seed);
  const r = rng(spec.seed + 1);
  await withoutIndexes(db, 'quarantine', async () => {
    for (let from = 0; from < spec.count; from += CHUNK) {
      const to = Math.min(spec.count, from + CHUNK);
      const rows: unknown[][] = [];
      for (let i = from; i < to; i++) rows.push(bulkQuarantined(make, r, spec, i));
      await unnestInsert(db, 'quarantine', QUARANTINE_COLUMNS, rows);
      spec.onProgress?.(to);
    }
  });
  await sql`SELECT setval(pg_get_serial_sequence('quarantine', 'rid'), ${spec.count + 1}, false)`.execute(db);
  await sql`INSERT INTO quarantine_rcpts (rcpt, created_at, rid) SELECT DISTINCT j, q.created_at, q.rid FROM quarantine q, json_array_elements_text(q.rcpt_to::json) j`.execute(db);
}
