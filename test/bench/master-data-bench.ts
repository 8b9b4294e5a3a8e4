/**
 * Master data benchmark: `node test/bench/master-data-bench.ts [--messages N ...]`. Pure
 * database, no network: builds a master database with a large message log and quarantine
 * index, then times the ingest (through ingestBatch), searches and reports, and prints a
 * markdown table that is also written to test/bench/results/master-data.md. See README.md.
 */
import { cpus, totalmem, tmpdir } from 'node:os';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchLog } from './lib/bench-options.ts';
import { openDatabase, type Db } from '@moat/storage';
import { DATA_MIGRATION } from '../../apps/master/src/db/migration-002-data.ts';
import { CLUSTER_MIGRATION } from '../../apps/master/src/db/migration-003-cluster.ts';
import { RETENTION_MIGRATION } from '../../apps/master/src/db/migration-004-retention.ts';
import { REFUSALS_MIGRATION } from '../../apps/master/src/db/migration-008-refusals.ts';
import { EVENT_EPOCHS_MIGRATION } from '../../apps/master/src/db/migration-012-event-epochs.ts';
import { TOP_BY_NODE_MIGRATION } from '../../apps/master/src/db/migration-015-top-by-node.ts';
import { LOG_PARTITIONS_MIGRATION } from '../../apps/master/src/db/migration-022-log-partitions.ts';
import { ADDRESS_SEARCH_MIGRATION } from '../../apps/master/src/db/migration-024-address-search.ts';
import { sqliteDatabase } from '../../apps/master/src/db/database.ts';
import { createIngest } from '../../apps/master/src/data/ingest.ts';
import { bulkLoadMessages, bulkLoadQuarantine } from './master-data-generate.ts';
import { ingestRun } from './master-data-ingest.ts';
import { messageQueries, quarantineQueries, timeQueries } from './master-data-queries.ts';
import { renderReport, type BenchResult, type ReportTiming } from './master-data-report.ts';
import { searchMessages } from '../../apps/master/src/data/messages-repository.ts';
import { searchQuarantine } from '../../apps/master/src/data/quarantine-repository.ts';
import { quarantineSize, top, traffic } from '../../apps/master/src/data/reports.ts';
import { topFromLog, trafficFromLog } from '../../apps/master/src/data/reports-from-log.ts';
import { DAY_MS } from '../../apps/master/src/data/time-buckets.ts';
import { upperMedian } from './lib/stats.ts';

const here = dirname(fileURLToPath(import.meta.url));
const started = Date.now();

const args = (() => {
  try {
    return parseArgs({
      options: {
        messages: { type: 'string', default: '10000000' },
        quarantine: { type: 'string', default: '1000000' },
        ingest: { type: 'string', default: '200000' },
        batch: { type: 'string', default: '1000' },
        days: { type: 'string', default: '30' },
        seed: { type: 'string', default: '42' },
        dir: { type: 'string', default: tmpdir() },
        out: { type: 'string', default: join(here, 'results', 'master-data.md') },
        'no-write': { type: 'boolean', default: false },
        keep: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }).values;
  } catch (err) {
    process.stderr.write(`master-data-bench: ${(err as Error).message}\n(--help lists the options)\n`);
    process.exit(2);
  }
})();

if (args.help) {
  process.stdout.write(`Usage: node test/bench/master-data-bench.ts [options]
  --messages N     message log rows to build (default 10000000)
  --quarantine N   quarantine index rows to build (default 1000000)
  --ingest N       events to time through ingestBatch (default 200000)
  --batch N        events per ingestBatch call (default 1000, the protocol's maximum)
  --days N         time span of the data and of the reports (default 30)
  --seed N         data generator seed (default 42)
  --dir DIR        where the temporary database goes (default: the OS temp folder)
  --out FILE       report file (default test/bench/results/master-data.md)
  --no-write       print only
  --keep           keep the database (its path is printed)
`);
  process.exit(0);
}

const int = (name: string, v: string | undefined, min: number): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    process.stderr.write(`master-data-bench: --${name} must be an integer >= ${min}, got ${v}\n`);
    process.exit(2);
  }
  return n;
};
const opts = {
  messages: int('messages', args.messages, 1000),
  quarantine: int('quarantine', args.quarantine, 1000),
  ingest: int('ingest', args.ingest, 1000),
  batch: int('batch', args.batch, 1),
  days: int('days', args.days, 2),
  seed: int('seed', args.seed, 0),
};

const log = benchLog;
const since = (t: number): number => performance.now() - t;
const ms = async (f: () => unknown): Promise<number> => {
  const t = performance.now();
  await f();
  return since(t);
};

const dir = mkdtempSync(join(args.dir ?? tmpdir(), 'moat-master-bench-'));
const file = join(dir, 'master.sqlite');
let db: Db | undefined;
const cleanup = (): void => {
  db?.close();
  if (!args.keep) rmSync(dir, { recursive: true, force: true });
};
process.on('SIGINT', () => {
  cleanup();
  process.exit(130);
});

try {
  db = openDatabase(file, [DATA_MIGRATION, CLUSTER_MIGRATION, RETENTION_MIGRATION, REFUSALS_MIGRATION, EVENT_EPOCHS_MIGRATION, TOP_BY_NODE_MIGRATION, LOG_PARTITIONS_MIGRATION, ADDRESS_SEARCH_MIGRATION]);
  const nodes = ['1a2b3c4d5e6f7a01', '1a2b3c4d5e6f7a02', '1a2b3c4d5e6f7a03', '1a2b3c4d5e6f7a04'];
  nodes.forEach((id, i) => db!.prepare("INSERT INTO nodes (id, name, credential_hash, joined_at) VALUES (?, ?, 'x', 0)").run(id, `scanner-${i + 1}`));
  const end = Date.UTC(2025, 5, 1);
  const start = end - opts.days * DAY_MS;
  const range = { start, end, nodes };
  const defaultCache = db.pragma('cache_size', { simple: true });

  // Building the data is preparation, not a figure: a bigger page cache makes it faster.
  db.pragma('cache_size = -524288');
  let t = performance.now();
  const lastSeq = await bulkLoadMessages(db, {
    count: opts.messages, start, end, nodes, seed: opts.seed,
    onProgress: (n) => { if (n % 1_000_000 === 0 || n === opts.messages) log(`message log: ${n.toLocaleString('en-US')} rows (${Math.round(n / (since(t) / 1000)).toLocaleString('en-US')}/s)`); },
  });
  const loadMessagesS = since(t) / 1000;
  t = performance.now();
  await bulkLoadQuarantine(db, {
    count: opts.quarantine, start, end, nodes, seed: opts.seed + 7,
    onProgress: (n) => { if (n % 250_000 === 0 || n === opts.quarantine) log(`quarantine: ${n.toLocaleString('en-US')} rows`); },
  });
  const loadQuarantineS = since(t) / 1000;
  db.pragma('wal_checkpoint(TRUNCATE)');
  // Everything measured from here runs as the master runs: its own pragmas, default cache, no ANALYZE.
  db.pragma(`cache_size = ${defaultCache}`);

  log(`ingest: ${opts.ingest.toLocaleString('en-US')} events through ingestBatch in batches of ${opts.batch}`);
  // The common query layer over the same SQLite handle, as the master opens it (db/database.ts).
  const kdb = sqliteDatabase(db).db;
  const ingest = await ingestRun(createIngest(kdb, 'sqlite'), { events: opts.ingest, batch: opts.batch, nodes, lastSeq, start: end - DAY_MS, end, seed: opts.seed + 13 });
  log(`ingest: ${Math.round(ingest.eventsPerS).toLocaleString('en-US')} events/s`);


  log('quarantine searches');
  const quarantineTimings = await timeQueries(quarantineQueries(opts.seed, range), (q) => searchQuarantine(kdb, 'sqlite', { ...q, limit: 50 }));
  log('message log searches');
  const messageTimings = await timeQueries(messageQueries(opts.seed, range), (q) => searchMessages(kdb, 'sqlite', { ...q, limit: 50 }));

  log('reports');
  const reportTimings: ReportTiming[] = [];
  const days = { from: start, to: end };
  const report = async <T>(name: string, rollup: () => Promise<T>, scan?: () => Promise<T>): Promise<void> => {
    const runs: number[] = [];
    for (let i = 0; i < 5; i++) runs.push(await ms(rollup));
    const result = await rollup();
    let scanMs: number | undefined;
    let same: boolean | undefined;
    if (scan) {
      log(`  baseline: ${name} by scanning the message log`);
      let scanned: T | undefined;
      scanMs = await ms(async () => { scanned = await scan(); });
      same = JSON.stringify(scanned) === JSON.stringify(result);
    }
    reportTimings.push({ name, rollupMs: upperMedian(runs), scanMs, same });
  };
  await report(`traffic, ${opts.days} days by day`, () => traffic(kdb, { ...days, bucket: 'day' }), () => trafficFromLog(kdb, { ...days, bucket: 'day' }));
  await report(`top 10 senders, ${opts.days} days`, () => top(kdb, { kind: 'sender', ...days, limit: 10 }), () => topFromLog(kdb, { kind: 'sender', ...days, limit: 10 }));
  await report(`traffic, ${opts.days} days by hour, per node`, () => traffic(kdb, { ...days, bucket: 'hour', byNode: true }));
  await report(`top 10 sender domains, ${opts.days} days`, () => top(kdb, { kind: 'sender_domain', ...days, limit: 10 }));
  await report(`top 10 recipients, ${opts.days} days`, () => top(kdb, { kind: 'recipient', ...days, limit: 10 }));
  await report(`top 10 blocked senders, ${opts.days} days`, () => top(kdb, { kind: 'blocked_sender', ...days, limit: 10 }));
  await report('quarantine size per node', () => quarantineSize(kdb));

  const count = (table: string): number => Number(db!.prepare(`SELECT COUNT(*) FROM ${table}`).pluck().get());
  const sizeOf = (f: string): number => (existsSync(f) ? statSync(f).size : 0);
  const cpu = cpus();
  const result: BenchResult = {
    date: new Date().toISOString(),
    cores: cpu.length,
    cpuModel: cpu[0]?.model ?? 'unknown',
    memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    sqlite: String(db.prepare('SELECT sqlite_version()').pluck().get()),
    command: `node ${relative(process.cwd(), fileURLToPath(import.meta.url))} ${process.argv.slice(2).join(' ')}`.trim(),
    days: opts.days,
    messages: count('messages'),
    quarantine: count('quarantine'),
    events: count('events'),
    rollupRows: { traffic: count('traffic_hourly'), top: count('top_senders_daily') },
    dbBytes: sizeOf(file) + sizeOf(`${file}-wal`),
    loadMessagesS,
    loadQuarantineS,
    bulkMessages: opts.messages,
    bulkQuarantine: opts.quarantine,
    ingest,
    quarantineTimings,
    messageTimings,
    reportTimings,
    durationS: (Date.now() - started) / 1000,
  };
  const markdown = renderReport(result);
  process.stdout.write(markdown);
  if (!args['no-write']) {
    mkdirSync(dirname(args.out!), { recursive: true });
    writeFileSync(args.out!, markdown);
    log(`written to ${relative(process.cwd(), args.out!)}`);
  }
  if (args.keep) log(`database kept at ${file}`);
} finally {
  cleanup();
}
