import type { Db } from '@moat/storage';
import { bucketMs, ceilTo, DAY_MS, floorTo } from './time-buckets.ts';
import { trafficSeries, type TrafficCount, type TrafficRow } from './traffic-series.ts';
import type { TopQuery, TopRow, TrafficQuery } from './reports.ts';

/**
 * The same reports computed by scanning the message log itself. Not used by the API: they are
 * the reference the roll-ups are checked against (tests) and the baseline they are measured
 * against (test/bench/master-data-bench.ts). Their cost grows with the mail in the range.
 */

export function trafficFromLog(db: Db, q: TrafficQuery): TrafficRow[] {
  const size = bucketMs(q.bucket);
  const from = floorTo(q.from, size);
  const to = ceilTo(q.to, size);
  const params: unknown[] = [from, to];
  let nodeFilter = '';
  if (q.node !== undefined) {
    nodeFilter = 'AND node_id IN (SELECT id FROM nodes WHERE name = ? UNION ALL SELECT ?)';
    params.push(q.node, q.node);
  }
  const counts = db.prepare<unknown[], TrafficCount>(`SELECT (received_at / ${size}) * ${size} AS start, ${q.byNode ? 'node_id' : 'NULL'} AS nodeId, action,
      COUNT(*) AS count, SUM(size) AS bytes
    FROM messages WHERE received_at >= ? AND received_at < ? ${nodeFilter}
    GROUP BY start, nodeId, action`).all(...params);
  return trafficSeries(counts, from, to, q.bucket, q.byNode ?? false);
}

export function topFromLog(db: Db, q: TopQuery): TopRow[] {
  const range = [floorTo(q.from, DAY_MS), ceilTo(q.to, DAY_MS)];
  const source: Record<TopQuery['kind'], string> = {
    sender: 'SELECT mail_from AS value FROM messages WHERE received_at >= ? AND received_at < ?',
    sender_domain: 'SELECT sender_domain AS value FROM messages WHERE received_at >= ? AND received_at < ?',
    recipient: 'SELECT j.value AS value FROM messages m, json_each(m.rcpt_to) j WHERE m.received_at >= ? AND m.received_at < ?',
    blocked_sender: "SELECT mail_from AS value FROM messages WHERE received_at >= ? AND received_at < ? AND action = 'reject'",
  };
  return db.prepare<unknown[], TopRow>(`SELECT value, COUNT(*) AS count FROM (${source[q.kind]}) GROUP BY value ORDER BY count DESC, value LIMIT ?`)
    .all(...range, q.limit);
}
