import { sql, type Kysely, type RawBuilder, type SqlBool } from 'kysely';
import type { MasterSchema } from '../db/schema.ts';
import { inChunks } from './in-chunks.ts';
import { TOP_KINDS, type TopKind } from './rollups.ts';
import { nodeCondition } from './search-filters.ts';
import { DAY_MS, floorTo } from './time-buckets.ts';

/**
 * Top lists over many days, exact and without adding up every value of every day.
 *
 * `top_senders_daily` holds a count per (kind, day, node, value). A top list over 30 days sums
 * them by value: with a long tail of senders that is every sender of every day and node, about
 * three quarters of a million rows at a million messages, several million at ten.
 *
 * The heads (a once-only job, `refreshTopHeads`): for each finished day and node, the
 * TOP_HEAD_SIZE busiest values of each kind, and that list's *floor*, the count of the first
 * value left out (so no value outside the head counted more that day and node). With them
 * (`topFromHeads`, after Fagin's threshold algorithm), per value:
 * - a lower bound: its counts in the heads, plus its counts in the lists read in full;
 * - an upper bound: the lower one plus the floor of every list whose head it is missing from;
 *   a value in no head at all is bounded by the sum of the floors.
 * The `limit`-th best lower bound is a threshold: a value whose upper bound is below it cannot
 * make the list. The few that can (the contenders) get exact totals, by a primary-key look-up
 * in each list whose head they are missing from (none for a value in every head), and are
 * ranked. When the bounds cannot settle it (the floors add up past the threshold, too many
 * contenders, equal counts at the cut, no heads yet), `undefined`: the caller sums instead.
 * Skewed mail (a few senders sending much of it, which is what a top list is for) is settled
 * from a few thousand rows whatever the size of the log; a flat distribution falls back.
 *
 * Days change: today all the time, a past day when a scanner's queued events arrive late. A
 * head records how many messages its day and node held in the traffic roll-up when it was
 * taken (the same transaction adds to both); a list whose traffic has moved since, or a day or
 * node without a head, is read in full from `top_senders_daily` instead, which is what keeps
 * the answer exact. The job takes heads of days before today only.
 */

/** Values kept per day, node and kind. */
export const TOP_HEAD_SIZE = 200;
/** More values than this that could make the list, and the plain sum is as cheap. */
const MAX_CONTENDERS = 2000;
/** More lists than this to read in full, and the plain sum is as cheap. */
const MAX_DIRECT_LISTS = 200;

export interface TopRange {
  readonly kind: TopKind;
  /** First day (UTC midnight, epoch ms), inclusive. */
  readonly fromDay: number;
  /** Day after the last (UTC midnight), exclusive. */
  readonly toDay: number;
  readonly limit: number;
  /** Only this node (name or id). */
  readonly node?: string;
}

export interface TopCount {
  readonly value: string;
  readonly count: number;
}

interface DayNode {
  readonly day: number;
  readonly node_id: string;
}
const keyOf = (l: DayNode): string => `${l.day}\0${l.node_id}`;

/** Messages per (day, node) in the traffic roll-up, days [fromDay, toDay). */
function trafficByDay(db: Kysely<MasterSchema>, fromDay: number, toDay: number, node?: string) {
  let q = db.selectFrom('traffic_hourly')
    .select([sql<number>`(hour / ${sql.lit(DAY_MS)}) * ${sql.lit(DAY_MS)}`.as('day'), 'node_id', sql<number>`CAST(SUM(count) AS BIGINT)`.as('messages')])
    .where('hour', '>=', fromDay).where('hour', '<', toDay)
    .groupBy([sql`(hour / ${sql.lit(DAY_MS)}) * ${sql.lit(DAY_MS)}`, 'node_id']);
  if (node !== undefined) q = q.where(nodeCondition('node_id', node));
  return q.execute();
}

/** `(day = d AND node_id = n) OR …` over `lists`, on `alias`'s columns. */
function listsCondition(lists: readonly DayNode[], alias: string): RawBuilder<SqlBool> {
  if (lists.length === 0) return sql<SqlBool>`1 = 0`;
  return sql<SqlBool>`(${sql.join(lists.map((l) => sql`(${sql.ref(`${alias}.day`)} = ${l.day} AND ${sql.ref(`${alias}.node_id`)} = ${l.node_id})`), sql` OR `)})`;
}

/** `VALUES (day, node_id), …`: the lists as a table to join on the primary key. */
function listValues(lists: readonly DayNode[]): RawBuilder<unknown> {
  return sql`VALUES ${sql.join(lists.map((l) => sql`(CAST(${l.day} AS BIGINT), CAST(${l.node_id} AS TEXT))`))}`;
}

const byCount = (a: TopCount, b: TopCount): number => b.count - a.count || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0);

/**
 * The top list from the heads, exact; `undefined` when the heads cannot settle it (no heads
 * in the range, too many lists changed since, or counts too flat), and the caller sums instead.
 */
export async function topFromHeads(db: Kysely<MasterSchema>, q: TopRange): Promise<TopCount[] | undefined> {
  // One snapshot for every read below (PostgreSQL; a SQLite transaction is one already).
  return db.transaction().setIsolationLevel('repeatable read').execute(async (tx) => {
    let listsQ = tx.selectFrom('top_head_lists').select(['day', 'node_id', 'messages']).where('day', '>=', q.fromDay).where('day', '<', q.toDay);
    if (q.node !== undefined) listsQ = listsQ.where(nodeCondition('node_id', q.node));
    const [headed, traffic] = await Promise.all([listsQ.execute(), trafficByDay(tx, q.fromDay, q.toDay, q.node)]);
    if (headed.length === 0) return undefined;
    const now = new Map(traffic.map((t) => [keyOf(t), Number(t.messages)]));
    const headedKeys = new Set(headed.map(keyOf));
    const headedDays = new Set(headed.map((l) => Number(l.day)));
    // A list is clean while its day and node hold the messages they held when its head was taken.
    const clean: DayNode[] = [];
    const stale: DayNode[] = [];
    for (const l of headed) (Number(l.messages) === (now.get(keyOf(l)) ?? 0) ? clean : stale).push({ day: Number(l.day), node_id: l.node_id });
    if (clean.length === 0) return undefined;
    // Lists without a head: a node new on a headed day, and every list of a day never headed (read by day: it may hold old rows of node '').
    const unheaded = traffic.filter((t) => headedDays.has(Number(t.day)) && !headedKeys.has(keyOf(t))).map((t) => ({ day: Number(t.day), node_id: t.node_id }));
    const unheadedDays = [...new Set(traffic.map((t) => Number(t.day)).filter((d) => !headedDays.has(d)))];
    const direct = [...stale, ...unheaded];
    if (direct.length + unheadedDays.length * 4 > MAX_DIRECT_LISTS) return undefined;

    const node = (alias: string) => (q.node === undefined ? sql<SqlBool>`1 = 1` : nodeCondition(`${alias}.node_id`, q.node));
    const inRange = (alias: string) => sql<SqlBool>`${sql.ref(`${alias}.day`)} >= ${q.fromDay} AND ${sql.ref(`${alias}.day`)} < ${q.toDay} AND ${node(alias)}`;
    // Each read below follows the primary key (kind, day, node_id, value) to the rows it needs: an OR of the two would walk the whole range.
    const directRows = [
      ...(unheadedDays.length === 0 ? [] : (await sql<TopCount>`
        SELECT d.value AS value, CAST(SUM(d.count) AS BIGINT) AS count FROM top_senders_daily d
        WHERE d.kind = ${q.kind} AND d.day IN (${sql.join(unheadedDays)}) AND ${node('d')}
        GROUP BY d.value`.execute(tx)).rows),
      ...(direct.length === 0 ? [] : (await sql<TopCount>`
        WITH l (day, node_id) AS (${listValues(direct)})
        SELECT d.value AS value, CAST(SUM(d.count) AS BIGINT) AS count
        FROM l JOIN top_senders_daily d ON d.kind = ${q.kind} AND d.day = l.day AND d.node_id = l.node_id
        GROUP BY d.value`.execute(tx)).rows),
    ];
    const notStale = stale.length === 0 ? sql<SqlBool>`1 = 1` : sql<SqlBool>`NOT ${listsCondition(stale, 'h')}`;
    // Per value in the clean heads: its counts there, and the floors of the lists it is in (where it needs no bound).
    const headRows = (await sql<{ value: string; count: number; present: number }>`
      SELECT h.value AS value, CAST(SUM(h.count) AS BIGINT) AS count, CAST(SUM(COALESCE(f.floor, 0)) AS BIGINT) AS present
      FROM top_heads h LEFT JOIN top_head_floors f ON f.kind = h.kind AND f.day = h.day AND f.node_id = h.node_id
      WHERE h.kind = ${q.kind} AND ${inRange('h')} AND ${notStale}
      GROUP BY h.value`.execute(tx)).rows;
    let floorsQ = tx.selectFrom('top_head_floors').select(['day', 'node_id', 'floor']).where('kind', '=', q.kind).where('day', '>=', q.fromDay).where('day', '<', q.toDay);
    if (q.node !== undefined) floorsQ = floorsQ.where(nodeCondition('node_id', q.node));
    const cleanKeys = new Set(clean.map(keyOf));
    const floorOf = new Map<string, number>();
    for (const f of await floorsQ.execute()) {
      const key = keyOf({ day: Number(f.day), node_id: f.node_id });
      if (cleanKeys.has(key)) floorOf.set(key, Number(f.floor));
    }
    const floors = [...floorOf.values()].reduce((a, f) => a + f, 0);

    // Bounds per value: lower, its counts known (the heads, the lists read in full); upper, the lower plus the floor of every clean list whose head it is missing from.
    const bounds = new Map<string, { lower: number; upper: number }>();
    for (const r of directRows) {
      const b = bounds.get(r.value) ?? { lower: 0, upper: floors };
      bounds.set(r.value, { lower: b.lower + Number(r.count), upper: b.upper + Number(r.count) });
    }
    for (const r of headRows) {
      const b = bounds.get(r.value) ?? { lower: 0, upper: floors };
      bounds.set(r.value, { lower: b.lower + Number(r.count), upper: b.upper + Number(r.count) - Number(r.present) });
    }
    // The limit-th best lower bound: a value whose upper bound is below it cannot be in the list, nor can a value in no head (at most the floors).
    const lowers = [...bounds.values()].map((b) => b.lower).sort((a, b) => b - a);
    const threshold = lowers[q.limit - 1] ?? 0;
    if (floors > 0 && floors >= threshold) return undefined;
    const contenders = [...bounds.entries()].filter(([, b]) => b.upper >= threshold && b.upper > 0);
    if (contenders.length > MAX_CONTENDERS) return undefined;

    // The contenders' exact totals: what is known, plus a look-up in each clean list (with a floor) whose head they are missing from.
    const totals = new Map(contenders.map(([v, b]) => [v, b.lower]));
    const unsure = contenders.filter(([, b]) => b.upper > b.lower).map(([v]) => v);
    if (unsure.length > 0) {
      const present = new Set<string>();
      await inChunks(unsure, async (chunk) => {
        const rows = await tx.selectFrom('top_heads').select(['value', 'day', 'node_id']).where('kind', '=', q.kind).where('day', '>=', q.fromDay).where('day', '<', q.toDay).where('value', 'in', chunk).execute();
        for (const r of rows) present.add(`${keyOf({ day: Number(r.day), node_id: r.node_id })}\0${r.value}`);
      }, 400);
      const absent = unsure.flatMap((value) => clean.filter((l) => (floorOf.get(keyOf(l)) ?? 0) > 0 && !present.has(`${keyOf(l)}\0${value}`)).map((l) => ({ ...l, value })));
      await inChunks(absent, async (chunk) => {
        const { rows } = await sql<TopCount>`
          WITH a (day, node_id, value) AS (VALUES ${sql.join(chunk.map((a) => sql`(CAST(${a.day} AS BIGINT), CAST(${a.node_id} AS TEXT), CAST(${a.value} AS TEXT))`))})
          SELECT t.value AS value, CAST(SUM(t.count) AS BIGINT) AS count
          FROM a JOIN top_senders_daily t ON t.kind = ${q.kind} AND t.day = a.day AND t.node_id = a.node_id AND t.value = a.value
          GROUP BY t.value`.execute(tx);
        for (const r of rows) totals.set(r.value, (totals.get(r.value) ?? 0) + Number(r.count));
      }, 2000);
    }
    const ranked = [...totals.entries()].map(([value, count]) => ({ value, count })).filter((r) => r.count > 0).sort(byCount);
    // Equal counts are ordered by the database's collation, which JavaScript does not know: ties at the cut are the sum's to order.
    if (ranked.slice(0, q.limit + 1).some((r, i, a) => i > 0 && a[i - 1]!.count === r.count)) return undefined;
    return ranked.slice(0, q.limit);
  });
}

/** How far back the job takes heads: a top list reaching further back sums those days (as every list did before heads). */
export const TOP_HEADS_LOOKBACK_DAYS = 400;

/** Days (UTC midnight) before `today`, within the look-back, whose heads are missing or stale, newest first. */
export async function daysToHead(db: Kysely<MasterSchema>, now: number, max: number): Promise<number[]> {
  const today = floorTo(now, DAY_MS);
  const since = today - TOP_HEADS_LOOKBACK_DAYS * DAY_MS;
  const [traffic, headed] = await Promise.all([trafficByDay(db, since, today), db.selectFrom('top_head_lists').select(['day', 'node_id', 'messages']).where('day', '>=', since).where('day', '<', today).execute()]);
  const taken = new Map(headed.map((l) => [keyOf({ day: Number(l.day), node_id: l.node_id }), Number(l.messages)]));
  const days = new Set<number>();
  for (const t of traffic) if (taken.get(keyOf({ day: Number(t.day), node_id: t.node_id })) !== Number(t.messages)) days.add(Number(t.day));
  return [...days].sort((a, b) => b - a).slice(0, max);
}

/**
 * Take one day's heads afresh, every node and kind, in one transaction (one snapshot: the
 * messages recorded are those the heads were taken from).
 */
export async function headDay(db: Kysely<MasterSchema>, day: number, size = TOP_HEAD_SIZE): Promise<void> {
  await db.transaction().setIsolationLevel('repeatable read').execute(async (tx) => {
    for (const table of ['top_heads', 'top_head_floors', 'top_head_lists'] as const) await tx.deleteFrom(table).where('day', '=', day).execute();
    // The day's rows ranked once: the first `size` of each kind and node are its head, the next one gives its floor.
    const { rows: ranked } = await sql<{ kind: string; node_id: string; value: string; count: number; rn: number }>`
      SELECT kind, node_id, value, count, rn FROM (
        SELECT kind, node_id, value, count, ROW_NUMBER() OVER (PARTITION BY kind, node_id ORDER BY count DESC, value) AS rn
        FROM top_senders_daily WHERE kind IN (${sql.join(TOP_KINDS)}) AND day = ${day}) r
      WHERE rn <= ${size + 1}`.execute(tx);
    const heads = ranked.filter((r) => Number(r.rn) <= size).map((r) => ({ kind: r.kind, day, node_id: r.node_id, value: r.value, count: Number(r.count) }));
    const floors = ranked.filter((r) => Number(r.rn) === size + 1).map((r) => ({ kind: r.kind, day, node_id: r.node_id, floor: Number(r.count) }));
    await inChunks(heads, (rows) => tx.insertInto('top_heads').values(rows).execute());
    await inChunks(floors, (rows) => tx.insertInto('top_head_floors').values(rows).execute());
    const traffic = await trafficByDay(tx, day, day + DAY_MS);
    const nodes = new Map(traffic.map((t) => [t.node_id, Number(t.messages)]));
    // Nodes with rows but no traffic (the cluster's rows from before top lists were per node, node '').
    for (const r of heads) if (!nodes.has(r.node_id)) nodes.set(r.node_id, 0);
    await inChunks([...nodes.entries()].map(([node_id, messages]) => ({ day, node_id, messages })), (rows) => tx.insertInto('top_head_lists').values(rows).execute());
  });
}

/** The job's run: head up to `maxDays` days that need it, newest first; the days headed. */
export async function refreshTopHeads(db: Kysely<MasterSchema>, now: number, o: { maxDays?: number; headSize?: number } = {}): Promise<number[]> {
  const days = await daysToHead(db, now, o.maxDays ?? 31);
  for (const day of days) await headDay(db, day, o.headSize);
  return days;
}
