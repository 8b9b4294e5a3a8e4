/**
 * What the master benchmark does on one engine: load the data, time the ingest, reports,
 * searches and look-ups (measureEngine); and on PostgreSQL the per-partition figures
 * (measurePartitions): the same operations on a log of one day partition and of N, each
 * partition as full, to show what grows with the number of partitions and what does not.
 */
import { sql, type Kysely } from 'kysely';
import type { MasterDatabase } from '../../../apps/master/src/db/database.ts';
import type { MasterSchema } from '../../../apps/master/src/db/schema.ts';
import { createIngest } from '../../../apps/master/src/data/ingest.ts';
import { dayOf, listLogPartitions } from '../../../apps/master/src/data/log-partitions.ts';
import { getMessage, searchMessages, type MessageSearch } from '../../../apps/master/src/data/messages-repository.ts';
import { searchQuarantine } from '../../../apps/master/src/data/quarantine-repository.ts';
import { top, topBySum, traffic } from '../../../apps/master/src/data/reports.ts';
import { refreshTopHeads } from '../../../apps/master/src/data/top-heads.ts';
import { DAY_MS } from '../../../apps/master/src/data/time-buckets.ts';
import { bulkLoadMessages, bulkLoadQuarantine, mailbox, RARE_WORDS, senderAddress, SENDERS, type LoadSpec } from '../master-data-generate.ts';
import { ingestRun, type IngestFigures } from '../master-data-ingest.ts';
import { messageQueries, quarantineQueries, timeQueries } from '../master-data-queries.ts';
import type { QueryTiming } from '../master-data-report.ts';
import { benchLog } from './bench-options.ts';
import type { BenchEngine, EngineKey } from './master-engines.ts';
import { bulkLoadMessagesPg, bulkLoadQuarantinePg } from './master-pg-load.ts';
import { percentile, upperMedian } from './stats.ts';

export interface BenchOptions {
  readonly messages: number;
  readonly quarantine: number;
  readonly ingest: number;
  readonly batch: number;
  readonly days: number;
  readonly seed: number;
}

export interface NamedMs {
  readonly name: string;
  readonly ms: number;
}

export interface EngineFigures {
  readonly key: EngineKey;
  readonly description: string;
  readonly messages: number;
  readonly quarantine: number;
  readonly partitions: number;
  readonly bytes: number;
  readonly loadS: number;
  /** The top-heads job's first run over the loaded days (before today), s. */
  readonly headsS: number;
  readonly ingest: IngestFigures;
  readonly reports: readonly NamedMs[];
  readonly quarantineTimings: readonly QueryTiming[];
  readonly messageTimings: readonly QueryTiming[];
  /** getMessage of random messages of every day: p50 and p99. */
  readonly lookup: { readonly p50: number; readonly p99: number; readonly count: number };
  /** On PostgreSQL: the per-partition operations on this (N-partition) log. */
  readonly partitionCase: PartitionCase | undefined;
}

export interface PartitionCase {
  readonly partitions: number;
  readonly rows: number;
  readonly ingestEventsPerS: number;
  readonly ingestBatchP50Ms: number;
  /** Median ms of each operation. */
  readonly ops: readonly NamedMs[];
}

export interface PartitionFigures {
  readonly rowsPerDay: number;
  readonly events: number;
  /** One partition of rowsPerDay rows. */
  readonly one: PartitionCase;
  /** One partition holding as many rows as the N. */
  readonly oneAll: PartitionCase;
  readonly many: PartitionCase;
}

const NODES = ['1a2b3c4d5e6f7a01', '1a2b3c4d5e6f7a02', '1a2b3c4d5e6f7a03', '1a2b3c4d5e6f7a04'];
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const since = (t: number) => performance.now() - t;
async function ms(f: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await f();
  return since(t);
}

/** The data spans whole UTC days ending with today's, so the ingest (now) writes into the last, as a live master does. */
function dataRange(days: number): { start: number; end: number } {
  const end = dayOf(Date.now()) + DAY_MS;
  return { start: end - days * DAY_MS, end };
}

async function addNodes(db: Kysely<MasterSchema>): Promise<void> {
  for (const [i, id] of NODES.entries()) await sql`INSERT INTO nodes (id, name, credential_hash, joined_at) VALUES (${id}, ${`scanner-${i + 1}`}, 'x', 0)`.execute(db);
}

/** Bulk-load `count` messages over [start, end) and a quarantine index; returns the last seq used. */
async function load(database: MasterDatabase, spec: { count: number; quarantine: number; start: number; end: number; seed: number }, label: string): Promise<number> {
  const progress = (what: string, total: number) => (n: number) => {
    if (n === total || n % Math.max(50_000, Math.ceil(total / 10 / 50_000) * 50_000) === 0) benchLog(`${label}: ${what} ${fmt(n)} / ${fmt(total)}`);
  };
  const messages: LoadSpec = { count: spec.count, start: spec.start, end: spec.end, nodes: NODES, seed: spec.seed, onProgress: progress('message log', spec.count) };
  const quarantine: LoadSpec = { count: spec.quarantine, start: spec.start, end: spec.end, nodes: NODES, seed: spec.seed + 7, onProgress: progress('quarantine', spec.quarantine) };
  if (database.engine === 'sqlite') {
    const db = database.sqlite!;
    const cache = db.pragma('cache_size', { simple: true });
    db.pragma('cache_size = -524288');
    const last = await bulkLoadMessages(db, messages);
    if (spec.quarantine > 0) await bulkLoadQuarantine(db, quarantine);
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.pragma(`cache_size = ${cache}`);
    return last;
  }
  const last = await bulkLoadMessagesPg(database.db, messages);
  if (spec.quarantine > 0) await bulkLoadQuarantinePg(database.db, quarantine);
  // What autovacuum would have done by the time a log is this big.
  await sql`VACUUM ANALYZE`.execute(database.db);
  return last;
}


async function randomIds(db: Kysely<MasterSchema>, n: number): Promise<{ id: string; node_id: string }[]> {
  return db.selectFrom('message_ids').select(['id', 'node_id']).orderBy(sql`random()`).limit(n).execute();
}

async function lookups(db: Kysely<MasterSchema>, ids: readonly { id: string; node_id: string }[]): Promise<number[]> {
  for (const k of ids.slice(0, 20)) await getMessage(db, k.node_id, k.id);
  const times: number[] = [];
  for (const k of ids) {
    const t = performance.now();
    const m = await getMessage(db, k.node_id, k.id);
    times.push(since(t));
    if (!m) throw new Error(`message ${k.node_id}/${k.id} not found by id`);
  }
  return times.sort((a, b) => a - b);
}

export async function measureEngine(engine: BenchEngine, o: BenchOptions): Promise<EngineFigures> {
  const label = engine.key;
  const database = await engine.open('moat');
  try {
    const { db } = database;
    await addNodes(db);
    const range = dataRange(o.days);
    let t = performance.now();
    const lastSeq = await load(database, { count: o.messages, quarantine: o.quarantine, ...range, seed: o.seed }, label);
    const loadS = since(t) / 1000;
    benchLog(`${label}: loaded in ${loadS.toFixed(0)} s; ingest of ${fmt(o.ingest)} events in batches of ${o.batch}`);

    const before = await engine.describe(database);
    const today = dayOf(Date.now());
    const ingest = await ingestRun(createIngest(db, engine.engine), { events: o.ingest, batch: o.batch, nodes: NODES, lastSeq, start: today, end: Math.max(today + 1, Date.now()), seed: o.seed + 13 });
    benchLog(`${label}: ingest ${fmt(ingest.eventsPerS)} events/s`);

    // What the master's top-heads job does within minutes of the data arriving: heads of every day before today.
    t = performance.now();
    const headed = await refreshTopHeads(db, Date.now(), { maxDays: o.days + 1 });
    const headsS = since(t) / 1000;
    benchLog(`${label}: heads of ${headed.length} days taken in ${headsS.toFixed(1)} s; reports over ${o.days} days`);
    const days = { from: range.start, to: range.end };
    const report = async (name: string, run: () => Promise<unknown>): Promise<NamedMs> => {
      await run();
      const runs: number[] = [];
      for (let i = 0; i < 5; i++) runs.push(await ms(run));
      return { name, ms: upperMedian(runs) };
    };
    const reports = [
      await report(`traffic, ${o.days} days by day`, () => traffic(db, { ...days, bucket: 'day' })),
      await report(`traffic, ${o.days} days by hour, per node`, () => traffic(db, { ...days, bucket: 'hour', byNode: true })),
      await report(`top 10 senders, ${o.days} days`, () => top(db, { kind: 'sender', ...days, limit: 10 })),
      await report(`summed without the heads: top 10 senders, ${o.days} days`, () => topBySum(db, { kind: 'sender', ...days, limit: 10 })),
      await report(`top 10 sender domains, ${o.days} days`, () => top(db, { kind: 'sender_domain', ...days, limit: 10 })),
      await report(`top 10 recipients, ${o.days} days`, () => top(db, { kind: 'recipient', ...days, limit: 10 })),
    ];

    benchLog(`${label}: quarantine and message log searches, look-ups by id`);
    const searchRange = { ...range, nodes: NODES };
    const quarantineTimings = await timeQueries(quarantineQueries(o.seed, searchRange), (q) => searchQuarantine(db, engine.engine, { ...q, limit: 50 }));
    const messageTimings = await timeQueries(messageQueries(o.seed, searchRange), (q) => searchMessages(db, engine.engine, { ...q, limit: 50 }));
    const times = await lookups(db, await randomIds(db, 200));
    const after = await engine.describe(database);
    const description = after === before ? after : `before the ingest: ${before}; after the searches: ${after}`;
    const partitionCase = engine.key === 'postgres'
      ? { ...(await timePartitionOps(db, range.end)), ingestEventsPerS: ingest.eventsPerS, ingestBatchP50Ms: ingest.batchP50Ms }
      : undefined;
    return {
      partitionCase,
      key: engine.key, description, messages: o.messages + ingest.byType['message.logged']!, quarantine: o.quarantine,
      partitions: (await listLogPartitions(db, engine.engine)).length, bytes: await engine.size(database, 'moat'), loadS, headsS, ingest, reports,
      quarantineTimings, messageTimings, lookup: { p50: percentile(times, 50), p99: percentile(times, 99), count: times.length },
    };
  } finally {
    await database.close();
  }
}

/** The operations timed against 1 and N partitions: bounded ones (a day, an id) should not grow with N; unbounded ones look in every partition. */
function partitionOps(db: Kysely<MasterSchema>, ids: readonly { id: string; node_id: string }[], today: number): [string, () => Promise<unknown>][] {
  const day = { from: today, to: today + DAY_MS };
  const search = (q: MessageSearch) => () => searchMessages(db, 'postgres', { ...q, limit: 50 });
  return [
    ['message by id (getMessage)', async () => { for (const k of ids) await getMessage(db, k.node_id, k.id); }],
    ['newest page, today', search({ ...day })],
    ['exact sender (busy), today', search({ sender: senderAddress(3), ...day })],
    ['exact recipient, today', search({ recipient: mailbox(5), ...day })],
    ['subject (rare word), today', search({ subject: RARE_WORDS[0]!, ...day })],
    ['newest page, no range', search({})],
    ['exact sender (rare), no range', search({ sender: senderAddress(SENDERS - 7) })],
  ];
}

/** The partition operations' medians on a loaded, ingested database (rows of the log and partitions holding them). */
async function timePartitionOps(db: Kysely<MasterSchema>, end: number): Promise<Omit<PartitionCase, 'ingestEventsPerS' | 'ingestBatchP50Ms'>> {
  await sql`ANALYZE`.execute(db);
  const today = dayOf(Date.now());
  const ids = await randomIds(db, 20);
  const ops: NamedMs[] = [];
  for (const [op, run] of partitionOps(db, ids, today)) {
    await run();
    const runs: number[] = [];
    for (let i = 0; i < 7; i++) runs.push(await ms(run));
    ops.push({ name: op, ms: op.startsWith('message by id') ? upperMedian(runs) / ids.length : upperMedian(runs) });
  }
  const rows = Number((await sql<{ n: number }>`SELECT COUNT(*) AS n FROM messages`.execute(db)).rows[0]!.n);
  return { partitions: (await listLogPartitions(db, 'postgres')).filter((p) => p.day < end).length, rows, ops };
}

/** A log of one day partition holding `rows` rows, the main run's ingest into it, then the partition operations. */
async function onePartition(engine: BenchEngine, o: BenchOptions, name: string, rows: number): Promise<PartitionCase> {
  const database = await engine.open(name);
  try {
    const { db } = database;
    await addNodes(db);
    const end = dayOf(Date.now()) + DAY_MS;
    const lastSeq = await load(database, { count: rows, quarantine: 0, start: end - DAY_MS, end, seed: o.seed }, `postgres, 1 partition of ${fmt(rows)} rows`);
    const today = dayOf(Date.now());
    const ingest = await ingestRun(createIngest(db, 'postgres'), { events: o.ingest, batch: o.batch, nodes: NODES, lastSeq, start: today, end: Math.max(today + 1, Date.now()), seed: o.seed + 13 });
    benchLog(`postgres, 1 partition of ${fmt(rows)} rows: ingest ${fmt(ingest.eventsPerS)} events/s`);
    return { ...(await timePartitionOps(db, end)), ingestEventsPerS: ingest.eventsPerS, ingestBatchP50Ms: ingest.batchP50Ms };
  } finally {
    await database.close();
  }
}

/**
 * The main run's N partitions (`many`, measured on its database after its ingest) against one:
 * one partition holding as many rows as each of the N (a log N times smaller: what a log
 * growing day by day does to the day's work), and one holding all of them (the same log in
 * one partition: what the number of partitions alone costs). Each gets the main run's ingest,
 * then the same operations.
 */
export async function measurePartitions(engine: BenchEngine, o: BenchOptions, many: PartitionCase): Promise<PartitionFigures> {
  const rowsPerDay = Math.round(o.messages / o.days);
  benchLog(`postgres: per-partition figures, against the ${many.partitions} partitions of the main run`);
  const one = await onePartition(engine, o, 'moat_p1', rowsPerDay);
  const oneAll = await onePartition(engine, o, 'moat_p1_all', o.messages);
  return { rowsPerDay, events: o.ingest, one, oneAll, many };
}
