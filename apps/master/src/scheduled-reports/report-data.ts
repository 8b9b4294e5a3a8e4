import { sql, type Kysely } from 'kysely';
import type { MasterSchema } from '../db/schema.ts';
import type { NodesSeenByData } from '../db/tables/data.ts';
import { quarantineSize, top, traffic, type TopRow } from '../data/reports.ts';
import type { TopKind } from '../data/rollups.ts';
import type { TrafficRow } from '../data/traffic-series.ts';
import type { ReportPeriod } from './period.ts';
import type { ReportSchedule } from './schedule-schema.ts';

/** Counts per verdict and their bytes (one day, one node, or the whole period). */
export type Counts = Omit<TrafficRow, 'start' | 'nodeId'>;

export interface DomainQuarantine {
  /** The recipient domain (lower case). */
  readonly domain: string;
  /** Messages to that domain put in quarantine during the period (a message to two of its users counts once). */
  readonly quarantined: number;
  /** Of those, still held now, released, deleted (by hand or by the quarantine's lifetime). */
  readonly held: number;
  readonly released: number;
  readonly deleted: number;
}

/** Everything one report mail shows: figures only, rendered by render.ts. */
export interface ReportData {
  readonly name: string;
  readonly period: ReportPeriod;
  readonly kind: ReportSchedule['period'];
  readonly generatedAt: number;
  readonly traffic?: {
    readonly total: Counts;
    /** Each UTC day of the period, oldest first, zeros included. */
    readonly days: readonly (Counts & { readonly start: number })[];
    /** Each node that had traffic, by name (its id if it has none any more). */
    readonly nodes: readonly (Counts & { readonly node: string })[];
  };
  readonly tops: readonly { readonly kind: TopKind; readonly rows: readonly TopRow[] }[];
  readonly quarantine?: {
    readonly domains: readonly DomainQuarantine[];
    /** Domains left out of `domains` beyond the row limit. */
    readonly moreDomains: number;
    /** The schedule's domain filter ([] = every domain). */
    readonly only: readonly string[];
    /** What the whole quarantine holds now. */
    readonly heldNow: { readonly count: number; readonly bytes: number };
  };
}

/** At most this many domains in one mail's quarantine table. */
export const MAX_DOMAIN_ROWS = 200;

const ZERO: Counts = { deliver: 0, tag: 0, quarantine: 0, reject: 0, total: 0, bytes: 0 };
const add = (a: Counts, b: Counts): Counts => ({
  deliver: a.deliver + b.deliver, tag: a.tag + b.tag, quarantine: a.quarantine + b.quarantine, reject: a.reject + b.reject, total: a.total + b.total, bytes: a.bytes + b.bytes,
});
const counts = (r: Counts): Counts => add(ZERO, r);

/**
 * Gather a schedule's figures for one period: traffic and top lists from the roll-ups (the same
 * functions as the reports API, so the mail and the console agree), the quarantine summary from
 * the quarantine index.
 */
export async function gatherReport(db: Kysely<MasterSchema>, schedule: ReportSchedule, period: ReportPeriod, now: number): Promise<ReportData> {
  const range = { from: period.start, to: period.end };
  const tops = [];
  for (const kind of schedule.topLists) tops.push({ kind, rows: await top(db, { kind, ...range, limit: schedule.topLimit }) });
  return {
    name: schedule.name,
    period,
    kind: schedule.period,
    generatedAt: now,
    ...(schedule.traffic ? { traffic: await trafficSection(db, range) } : {}),
    tops,
    ...(schedule.quarantine ? { quarantine: await quarantineSection(db, period, schedule.domains) } : {}),
  };
}

async function trafficSection(db: Kysely<MasterSchema>, range: { from: number; to: number }): Promise<NonNullable<ReportData['traffic']>> {
  const days = (await traffic(db, { ...range, bucket: 'day' })).map((r) => ({ start: r.start, ...counts(r) }));
  const names = new Map((await db.withTables<NodesSeenByData>().selectFrom('nodes').select(['id', 'name']).execute()).map((n) => [n.id, n.name]));
  const perNode = new Map<string, Counts>();
  for (const r of await traffic(db, { ...range, bucket: 'day', byNode: true })) {
    const node = names.get(r.nodeId ?? '') ?? r.nodeId ?? '';
    perNode.set(node, add(perNode.get(node) ?? ZERO, counts(r)));
  }
  const nodes = [...perNode].filter(([, c]) => c.total > 0).map(([node, c]) => ({ node, ...c })).sort((a, b) => b.total - a.total || a.node.localeCompare(b.node));
  return { total: days.reduce<Counts>((sum, d) => add(sum, d), ZERO), days, nodes };
}

async function quarantineSection(db: Kysely<MasterSchema>, period: ReportPeriod, only: readonly string[]): Promise<NonNullable<ReportData['quarantine']>> {
  // Per recipient domain, each message once however many of the domain's users it was for.
  // The domain is what follows the last @, in words both engines know (no instr/strpos):
  // rtrim strips every character other than @ from the end, leaving `local@`, which replace removes.
  const { rows } = await sql<DomainQuarantine>`SELECT domain,
      COUNT(DISTINCT rid) AS quarantined,
      COUNT(DISTINCT CASE WHEN status = 'held' THEN rid END) AS held,
      COUNT(DISTINCT CASE WHEN status = 'released' THEN rid END) AS released,
      COUNT(DISTINCT CASE WHEN status = 'deleted' THEN rid END) AS deleted
    FROM (SELECT replace(r.rcpt, rtrim(r.rcpt, replace(r.rcpt, '@', '')), '') AS domain, r.rid AS rid, q.status AS status
      FROM quarantine_rcpts r JOIN quarantine q ON q.rid = r.rid
      WHERE r.created_at >= ${period.start} AND r.created_at < ${period.end}) t
    GROUP BY domain ORDER BY quarantined DESC, domain`.execute(db);
  const wanted = only.length === 0 ? rows : rows.filter((r) => only.includes(r.domain));
  const { count, bytes } = await quarantineSize(db);
  return { domains: wanted.slice(0, MAX_DOMAIN_ROWS), moreDomains: Math.max(0, wanted.length - MAX_DOMAIN_ROWS), only, heldNow: { count, bytes } };
}
