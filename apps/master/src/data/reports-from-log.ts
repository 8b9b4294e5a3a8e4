import type { Db } from '@moat/storage';
import { bucketMs, ceilTo, DAY_MS, floorTo } from './time-buckets.ts';
import { trafficSeries, type TrafficCount, type TrafficRow } from './traffic-series.ts';
import type { TopQuery, TopRow, TrafficQuery } from './reports.ts';
import { AUTH_FAILURES } from './reason-tops.ts';

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
      SUM(event_count) AS count, SUM(size * event_count) AS bytes
    FROM messages WHERE received_at >= ? AND received_at < ? ${nodeFilter}
    GROUP BY start, nodeId, action`).all(...params);
  return trafficSeries(counts, from, to, q.bucket, q.byNode ?? false);
}

export function topFromLog(db: Db, q: TopQuery): TopRow[] {
  const range = [floorTo(q.from, DAY_MS), ceilTo(q.to, DAY_MS)];
  const params: unknown[] = [...range];
  let byNode = '';
  if (q.node !== undefined) {
    byNode = 'AND m.node_id IN (SELECT id FROM nodes WHERE name = ? UNION ALL SELECT ?)';
    params.push(q.node, q.node);
  }
  // Each source yields (value, w): w is how many log events the row stands for (a scanner's
  // aggregate of refusals stands for many); a refusal at connect has no sender to count.
  const hasSender = "json_extract(refusal, '$.stage') IS NOT 'connect'";
  const source: Record<TopQuery['kind'], string> = {
    sender: `SELECT mail_from AS value, event_count AS w FROM messages m WHERE received_at >= ? AND received_at < ? ${byNode} AND ${hasSender}`,
    sender_domain: `SELECT sender_domain AS value, event_count AS w FROM messages m WHERE received_at >= ? AND received_at < ? ${byNode} AND ${hasSender}`,
    recipient: `SELECT j.value AS value, m.event_count AS w FROM messages m, json_each(m.rcpt_to) j WHERE m.received_at >= ? AND m.received_at < ? ${byNode}`,
    blocked_sender: `SELECT mail_from AS value, event_count AS w FROM messages m WHERE received_at >= ? AND received_at < ? ${byNode} AND action = 'reject' AND ${hasSender}`,
    virus: `SELECT DISTINCT m.rid, json_extract(j.value, '$.match') AS value, m.event_count AS w FROM messages m, json_each(m.reasons) j
      WHERE m.received_at >= ? AND m.received_at < ? ${byNode} AND json_extract(j.value, '$.kind') = 'virus'`,
    spf_fail: authFailures('auth.spf', byNode),
    dkim_fail: authFailures('auth.dkim', byNode),
    dmarc_fail: authFailures('auth.dmarc', byNode),
  };
  return db.prepare<unknown[], TopRow>(`SELECT value, SUM(w) AS count FROM (${source[q.kind]}) GROUP BY value ORDER BY count DESC, value LIMIT ?`)
    .all(...params, q.limit);
}

/** `<result> <domain>[ …]` split in SQL: the domain of each failing reason, once per message. */
function authFailures(rule: string, byNode: string): string {
  const results = AUTH_FAILURES[rule]!.results.map((r) => `'${r}'`).join(', ');
  return `SELECT DISTINCT rid, 1 AS w, lower(CASE WHEN instr(rest, ' ') > 0 THEN substr(rest, 1, instr(rest, ' ') - 1) ELSE rest END) AS value FROM (
      SELECT rid,
        CASE WHEN instr(match, ' ') > 0 THEN substr(match, 1, instr(match, ' ') - 1) ELSE match END AS result,
        CASE WHEN instr(match, ' ') > 0 THEN substr(match, instr(match, ' ') + 1) ELSE '' END AS rest
      FROM (SELECT m.rid AS rid, json_extract(j.value, '$.match') AS match FROM messages m, json_each(m.reasons) j
        WHERE m.received_at >= ? AND m.received_at < ? ${byNode} AND json_extract(j.value, '$.kind') = 'analyzer' AND json_extract(j.value, '$.rule') = '${rule}')
    ) WHERE result IN (${results})`;
}
