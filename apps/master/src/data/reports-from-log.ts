import { sql, type Kysely } from 'kysely';
import type { MasterSchema } from '../db/schema.ts';
import { bucketMs, ceilTo, DAY_MS, floorTo } from './time-buckets.ts';
import { trafficSeries, type TrafficCount, type TrafficRow } from './traffic-series.ts';
import { sumOf, type TopQuery, type TopRow, type TrafficQuery } from './reports.ts';
import { nodeCondition } from './search-filters.ts';
import { AUTH_FAILURES } from './reason-tops.ts';

/**
 * The same reports computed from the message log itself. Not used by the API: they are the
 * reference the roll-ups are checked against (tests) and the baseline they are measured
 * against (test/bench/master-data-bench.ts). Their cost grows with the mail in the range.
 * The traffic is one GROUP BY; the top lists read the range's rows in pages and count in
 * plain code here (the JSON columns they unpack would need each engine's own JSON functions),
 * written apart from rollups.ts and reason-tops.ts so that the two are checked against each other.
 */

export async function trafficFromLog(db: Kysely<MasterSchema>, q: TrafficQuery): Promise<TrafficRow[]> {
  const size = bucketMs(q.bucket);
  const from = floorTo(q.from, size);
  const to = ceilTo(q.to, size);
  const start = sql<number>`(received_at / ${sql.lit(size)}) * ${sql.lit(size)}`;
  let query = db.selectFrom('messages')
    .select([start.as('start'), (q.byNode ? sql<string | null>`node_id` : sql<string | null>`NULL`).as('nodeId'), 'action', sumOf('event_count').as('count'),
      sql<number>`CAST(SUM(size * event_count) AS BIGINT)`.as('bytes')])
    .where('received_at', '>=', from).where('received_at', '<', to)
    .groupBy(q.byNode ? [start, 'node_id', 'action'] : [start, 'action']);
  if (q.node !== undefined) query = query.where(nodeCondition('node_id', q.node));
  const counts: TrafficCount[] = await query.execute();
  return trafficSeries(counts, from, to, q.bucket, q.byNode ?? false);
}

/** Rows read per page while counting the top lists. */
const PAGE = 5000;

export async function topFromLog(db: Kysely<MasterSchema>, q: TopQuery): Promise<TopRow[]> {
  const counts = new Map<string, number>();
  const count = (value: string, w: number) => counts.set(value, (counts.get(value) ?? 0) + w);
  for (let after = 0; ; ) {
    let query = db.selectFrom('messages').select(['rid', 'mail_from', 'sender_domain', 'rcpt_to', 'action', 'reasons', 'refusal', 'event_count'])
      .where('received_at', '>=', floorTo(q.from, DAY_MS)).where('received_at', '<', ceilTo(q.to, DAY_MS)).where('rid', '>', after)
      .orderBy('rid').limit(PAGE);
    if (q.node !== undefined) query = query.where(nodeCondition('node_id', q.node));
    const rows = await query.execute();
    for (const m of rows) {
      // Each row counts as the log events it stands for (a scanner's aggregate of refusals stands for many); a refusal at connect has no sender.
      const w = m.event_count;
      const hasSender = m.refusal === null || (JSON.parse(m.refusal) as { stage: string }).stage !== 'connect';
      if (q.kind === 'sender' && hasSender) count(m.mail_from, w);
      else if (q.kind === 'sender_domain' && hasSender) count(m.sender_domain, w);
      else if (q.kind === 'blocked_sender' && hasSender && m.action === 'reject') count(m.mail_from, w);
      else if (q.kind === 'recipient') for (const r of JSON.parse(m.rcpt_to) as string[]) count(r, w);
      else if (q.kind === 'virus' || q.kind.endsWith('_fail')) {
        // Each value once per message; a failing check weighs 1 (a refusal carries no authentication results).
        const values = new Set<string>();
        for (const r of JSON.parse(m.reasons) as { kind: string; rule: string; match: string }[]) {
          if (q.kind === 'virus' && r.kind === 'virus') values.add(r.match);
          const check = r.kind === 'analyzer' ? AUTH_FAILURES[r.rule] : undefined;
          if (check?.kind !== q.kind) continue;
          const space = r.match.indexOf(' ');
          const result = space < 0 ? r.match : r.match.slice(0, space);
          const rest = space < 0 ? '' : r.match.slice(space + 1);
          if (check.results.includes(result)) values.add((rest.includes(' ') ? rest.slice(0, rest.indexOf(' ')) : rest).toLowerCase());
        }
        for (const v of values) count(v, q.kind === 'virus' ? w : 1);
      }
    }
    if (rows.length < PAGE) break;
    after = rows.at(-1)!.rid;
  }
  return [...counts].map(([value, n]) => ({ value, count: n }))
    .sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0))
    .slice(0, q.limit);
}
