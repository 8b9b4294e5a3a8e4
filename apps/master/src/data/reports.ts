import type { Db } from '@moat/storage';
import { bucketMs, ceilTo, DAY_MS, floorTo, type Bucket } from './time-buckets.ts';
import { trafficSeries, type TrafficCount, type TrafficRow } from './traffic-series.ts';
import type { TopKind } from './rollups.ts';

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

export function traffic(db: Db, q: TrafficQuery): TrafficRow[] {
  if (q.to <= q.from) return [];
  const size = bucketMs(q.bucket);
  const from = floorTo(q.from, size);
  const to = ceilTo(q.to, size);
  if ((to - from) / size > MAX_BUCKETS) throw new RangeError(`the range has more than ${MAX_BUCKETS} ${q.bucket} buckets`);
  const params: unknown[] = [from, to];
  let nodeFilter = '';
  if (q.node !== undefined) {
    nodeFilter = 'AND node_id IN (SELECT id FROM nodes WHERE name = ? UNION ALL SELECT ?)';
    params.push(q.node, q.node);
  }
  const counts = db.prepare<unknown[], TrafficCount>(`SELECT (hour / ${size}) * ${size} AS start, ${q.byNode ? 'node_id' : 'NULL'} AS nodeId, action,
      SUM(count) AS count, SUM(bytes) AS bytes
    FROM traffic_hourly WHERE hour >= ? AND hour < ? ${nodeFilter}
    GROUP BY start, nodeId, action`).all(...params);
  return trafficSeries(counts, from, to, q.bucket, q.byNode ?? false);
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

/** The busiest senders, sender domains, recipients, or blocked senders over whole days (optionally on one node). */
export function top(db: Db, q: TopQuery): TopRow[] {
  const params: unknown[] = [q.kind, floorTo(q.from, DAY_MS), ceilTo(q.to, DAY_MS)];
  let nodeFilter = '';
  if (q.node !== undefined) {
    nodeFilter = 'AND node_id IN (SELECT id FROM nodes WHERE name = ? UNION ALL SELECT ?)';
    params.push(q.node, q.node);
  }
  return db.prepare<unknown[], TopRow>(`SELECT value, SUM(count) AS count FROM top_senders_daily
    WHERE kind = ? AND day >= ? AND day < ? ${nodeFilter} GROUP BY value ORDER BY count DESC, value LIMIT ?`)
    .all(...params, q.limit);
}

export interface QuarantineSizeRow {
  readonly nodeId: string;
  readonly nodeName: string | null;
  readonly count: number;
  readonly bytes: number;
}

/** Messages held in quarantine now, and their bytes, per node and in all (a covering index: no table reads). */
export function quarantineSize(db: Db): { count: number; bytes: number; nodes: QuarantineSizeRow[] } {
  const nodes = db.prepare<[], QuarantineSizeRow>(`SELECT s.node_id AS nodeId, n.name AS nodeName, s.count, s.bytes
    FROM (SELECT node_id, COUNT(*) AS count, COALESCE(SUM(size), 0) AS bytes FROM quarantine WHERE status = 'held' GROUP BY node_id) s
    LEFT JOIN nodes n ON n.id = s.node_id ORDER BY s.node_id`).all();
  return { count: nodes.reduce((a, r) => a + r.count, 0), bytes: nodes.reduce((a, r) => a + r.bytes, 0), nodes };
}
