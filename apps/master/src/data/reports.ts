import { sql, type Kysely } from 'kysely';
import type { MasterSchema } from '../db/schema.ts';
import type { NodesSeenByData } from '../db/tables/data.ts';
import { nodeCondition } from './search-filters.ts';
import { bucketMs, ceilTo, DAY_MS, floorTo, type Bucket } from './time-buckets.ts';
import { trafficSeries, type TrafficCount, type TrafficRow } from './traffic-series.ts';
import type { TopKind } from './rollups.ts';
import { topFromHeads } from './top-heads.ts';

/** Reports read the roll-ups only: their cost depends on the time range, not on how much mail there was. */

export interface TrafficQuery {
  /** Epoch ms; rounded down to the bucket. */
  readonly from: number;
  /** Epoch ms, exclusive; rounded up to the bucket. */
  readonly to: number;
  readonly bucket: Bucket;
  /** Only this node (name or id). */
  readonly node?: string;
  /** One row per bucket and node instead of one per bucket. */
  readonly byNode?: boolean;
}

/** At most this many buckets in one report (a year and a half of hours). */
export const MAX_BUCKETS = 13_000;

export async function traffic(db: Kysely<MasterSchema>, q: TrafficQuery): Promise<TrafficRow[]> {
  if (q.to <= q.from) return [];
  const size = bucketMs(q.bucket);
  const from = floorTo(q.from, size);
  const to = ceilTo(q.to, size);
  if ((to - from) / size > MAX_BUCKETS) throw new RangeError(`the range has more than ${MAX_BUCKETS} ${q.bucket} buckets`);
  const start = sql<number>`(hour / ${sql.lit(size)}) * ${sql.lit(size)}`;
  let query = db.selectFrom('traffic_hourly')
    .select([start.as('start'), (q.byNode ? sql<string | null>`node_id` : sql<string | null>`NULL`).as('nodeId'), 'action', sumOf('count').as('count'), sumOf('bytes').as('bytes')])
    .where('hour', '>=', from).where('hour', '<', to)
    .groupBy(q.byNode ? [start, 'node_id', 'action'] : [start, 'action']);
  if (q.node !== undefined) query = query.where(nodeCondition('node_id', q.node));
  const counts: TrafficCount[] = await query.execute();
  return trafficSeries(counts, from, to, q.bucket, q.byNode ?? false);
}

/** SUM of a BIGINT column as a number on both engines (PostgreSQL sums BIGINT to NUMERIC, which its driver gives as a string). */
export function sumOf(column: string) {
  return sql<number>`CAST(SUM(${sql.ref(column)}) AS BIGINT)`;
}

export interface TopQuery {
  readonly kind: TopKind;
  /** Epoch ms; rounded down to the day (UTC). */
  readonly from: number;
  /** Epoch ms, exclusive; rounded up to the day. */
  readonly to: number;
  readonly limit: number;
  /** Only this node (name or id). */
  readonly node?: string;
}

export interface TopRow {
  readonly value: string;
  readonly count: number;
}

/**
 * The busiest senders, sender domains, recipients, or blocked senders over whole days
 * (optionally on one node), most first, ties by value. From the days' heads where they settle
 * it (top-heads.ts: a few thousand rows read however long the tail), else by summing every
 * value of every day (`topBySum`); the same answer either way.
 */
export async function top(db: Kysely<MasterSchema>, q: TopQuery): Promise<TopRow[]> {
  const range = { kind: q.kind, fromDay: floorTo(q.from, DAY_MS), toDay: ceilTo(q.to, DAY_MS), limit: q.limit, ...(q.node === undefined ? {} : { node: q.node }) };
  return (await topFromHeads(db, range)) ?? topBySum(db, q);
}

/** The top list by summing `top_senders_daily` over the range: what `top` answers, at the cost of every row of every day. */
export async function topBySum(db: Kysely<MasterSchema>, q: TopQuery): Promise<TopRow[]> {
  const count = sumOf('count');
  let query = db.selectFrom('top_senders_daily').select(['value', count.as('count')])
    .where('kind', '=', q.kind).where('day', '>=', floorTo(q.from, DAY_MS)).where('day', '<', ceilTo(q.to, DAY_MS))
    .groupBy('value').orderBy(count, 'desc').orderBy('value').limit(q.limit);
  if (q.node !== undefined) query = query.where(nodeCondition('node_id', q.node));
  return query.execute();
}

export interface QuarantineSizeRow {
  readonly nodeId: string;
  readonly nodeName: string | null;
  readonly count: number;
  readonly bytes: number;
}

/** Messages held in quarantine now, and their bytes, per node and in all (a covering index: no table reads). */
export async function quarantineSize(db: Kysely<MasterSchema>): Promise<{ count: number; bytes: number; nodes: QuarantineSizeRow[] }> {
  const held = db.selectFrom('quarantine').select(['node_id', (eb) => eb.fn.countAll<number>().as('count'), sql<number>`COALESCE(${sumOf('size')}, 0)`.as('bytes')])
    .where('status', '=', 'held').groupBy('node_id');
  const nodes = await db.withTables<NodesSeenByData>().selectFrom(held.as('s')).leftJoin('nodes as n', 'n.id', 's.node_id')
    .select(['s.node_id as nodeId', 'n.name as nodeName', 's.count', 's.bytes']).orderBy('s.node_id').execute();
  // COUNT(*) is a BIGINT on PostgreSQL: a number through database.ts's parser.
  const rows = nodes.map((r) => ({ ...r, count: Number(r.count), bytes: Number(r.bytes) }));
  return { count: rows.reduce((a, r) => a + r.count, 0), bytes: rows.reduce((a, r) => a + r.bytes, 0), nodes: rows };
}
