/**
 * `pnpm bench:master` (with the link bench): the master's data on both engines side by side,
 * `node test/bench/master-bench.ts [--messages N …]`. For SQLite, a private PostgreSQL and a
 * PostgreSQL primary with a synchronous standby (pg_auto_failover), each in turn: the same
 * seeded message log and quarantine index, then event ingest through the real ingestBatch in
 * batches as scanners send them, the 30-day reports, quarantine and log searches, look-ups by
 * id; on PostgreSQL also the per-partition figures (one day partition against N). Prints a
 * markdown report with every figure as a ratio to SQLite's of the same run, writes it to
 * test/bench/results/master.md. Progress on stderr. See README.md, "Master benchmark".
 */
import { cpus, loadavg, totalmem } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchLog, intOption } from './lib/bench-options.ts';
import { ENGINE_KEYS, engineMissing, startEngine, type EngineKey } from './lib/master-engines.ts';
import { measureEngine, type EngineFigures, type PartitionFigures, measurePartitions } from './lib/master-bench-run.ts';
import { renderMasterReport } from './lib/master-bench-report.ts';

const here = dirname(fileURLToPath(import.meta.url));
const started = Date.now();
const loadAtStart = loadavg()[0]!;

const args = (() => {
  try {
    return parseArgs({
      options: {
        messages: { type: 'string', default: '1000000' },
        full: { type: 'boolean', default: false },
        quarantine: { type: 'string' },
        ingest: { type: 'string', default: '100000' },
        batch: { type: 'string', default: '500' },
        days: { type: 'string', default: '30' },
        engines: { type: 'string', default: ENGINE_KEYS.join(',') },
        seed: { type: 'string', default: '42' },
        dir: { type: 'string', default: '' },
        out: { type: 'string', default: join(here, 'results', 'master.md') },
        'no-write': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }).values;
  } catch (err) {
    process.stderr.write(`master-bench: ${(err as Error).message}\n(--help lists the options)\n`);
    process.exit(2);
  }
})();

if (args.help) {
  process.stdout.write(`Usage: node test/bench/master-bench.ts [options]
  --messages N     message log rows on each engine (default 1000000; a few minutes per engine on 2 cores)
  --full           the issue's size: 10000000 rows (about 9 GiB on SQLite, as much again per PostgreSQL)
  --quarantine N   quarantine index rows (default: a tenth of --messages)
  --ingest N       events timed through ingestBatch (default 100000)
  --batch N        events per batch (default 500, the scanners' default outbox batch; at most 1000)
  --days N         days the data spans: day partitions on PostgreSQL, the reports' range (default 30)
  --engines LIST   sqlite,postgres,postgres-sync (default all three; SQLite is every ratio's baseline)
  --seed N         data generator seed (default 42)
  --dir DIR        where the databases go (default: the OS temp folder)
  --out FILE       report file (default test/bench/results/master.md)
  --no-write       print only
`);
  process.exit(0);
}

const opts = (() => {
  try {
    const messages = args.full ? 10_000_000 : intOption('messages', args.messages, 10_000);
    const engines = args.engines!.split(',').map((s) => s.trim()).filter(Boolean);
    for (const e of engines) if (!ENGINE_KEYS.includes(e as EngineKey)) throw new Error(`--engines: unknown engine "${e}" (known: ${ENGINE_KEYS.join(', ')})`);
    return {
      messages,
      quarantine: args.quarantine === undefined ? Math.max(1000, Math.round(messages / 10)) : intOption('quarantine', args.quarantine, 1000),
      ingest: intOption('ingest', args.ingest, 1000),
      batch: Math.min(1000, intOption('batch', args.batch, 1)),
      days: intOption('days', args.days, 2),
      seed: intOption('seed', args.seed, 0),
      engines: engines as EngineKey[],
    };
  } catch (err) {
    process.stderr.write(`master-bench: ${(err as Error).message}\n`);
    process.exit(2);
  }
})();

const figures: EngineFigures[] = [];
let partitions: PartitionFigures | undefined;
const skipped: string[] = [];
for (const key of opts.engines) {
  const missing = engineMissing(key);
  if (missing) {
    benchLog(`${key}: skipped (${missing})`);
    skipped.push(`${key}: ${missing}`);
    continue;
  }
  benchLog(`${key}: starting`);
  const engine = await startEngine(key, args.dir!);
  try {
    const f = await measureEngine(engine, opts);
    figures.push(f);
    if (f.partitionCase) partitions = await measurePartitions(engine, opts, f.partitionCase);
  } finally {
    await engine.stop();
  }
}

const cpu = cpus();
const markdown = renderMasterReport({
  date: new Date().toISOString(),
  cores: cpu.length,
  cpuModel: cpu[0]?.model ?? 'unknown',
  memGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  command: `node ${relative(process.cwd(), fileURLToPath(import.meta.url))} ${process.argv.slice(2).join(' ')}`.trim(),
  opts,
  engines: figures,
  partitions,
  skipped,
  durationS: (Date.now() - started) / 1000,
  load: [loadAtStart, loadavg()[0]!],
});
process.stdout.write(markdown);
if (!args['no-write']) {
  mkdirSync(dirname(args.out!), { recursive: true });
  writeFileSync(args.out!, markdown);
  benchLog(`written to ${relative(process.cwd(), args.out!)}`);
}
