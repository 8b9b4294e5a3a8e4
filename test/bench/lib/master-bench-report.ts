/** The master benchmark's markdown report: every engine side by side, each figure also as a ratio to SQLite's of the same run. */
import { ENGINE_LABELS } from './master-engines.ts';
import type { BenchOptions, EngineFigures, PartitionFigures } from './master-bench-run.ts';
import type { QueryTiming } from '../master-data-report.ts';
import { percentile } from './stats.ts';

export interface MasterReport {
  readonly date: string;
  readonly cores: number;
  readonly cpuModel: string;
  readonly memGiB: number;
  readonly node: string;
  readonly command: string;
  readonly opts: BenchOptions;
  readonly engines: readonly EngineFigures[];
  readonly partitions: PartitionFigures | undefined;
  readonly skipped: readonly string[];
  readonly durationS: number;
  /** The machine's 1-minute load average at the start and at the end of the run. */
  readonly load: readonly [number, number];
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const num = (n: number) => (!Number.isFinite(n) ? '—' : n >= 100 ? int(n) : n >= 10 ? n.toFixed(1) : n.toFixed(2));
const ratio = (x: number, base: number | undefined) => (base === undefined || !Number.isFinite(x) || !Number.isFinite(base) || base === 0 ? '—' : `${num(x / base)}×`);
const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;
const p = (t: readonly QueryTiming[], q: number) => percentile(t.map((x) => x.ms).sort((a, b) => a - b), q);

/** A table with one value column per engine, and after each engine but SQLite its ratio to SQLite. */
function sideBySide(engines: readonly EngineFigures[], rows: readonly { name: string; target?: string; value: (e: EngineFigures) => number; format?: (n: number) => string }[]): string[] {
  const base = engines.find((e) => e.key === 'sqlite');
  const header = ['figure', 'target (issue 21)', ...engines.flatMap((e) => (e.key === 'sqlite' ? [ENGINE_LABELS[e.key]] : [ENGINE_LABELS[e.key], `${ENGINE_LABELS[e.key]} ÷ SQLite`]))];
  const lines = [`| ${header.join(' | ')} |`, `| --- | --- | ${header.slice(2).map(() => '---:').join(' | ')} |`];
  for (const r of rows) {
    const fmt = r.format ?? num;
    const cells = engines.flatMap((e) => {
      const v = r.value(e);
      return e.key === 'sqlite' ? [fmt(v)] : [fmt(v), ratio(v, base ? r.value(base) : undefined)];
    });
    lines.push(`| ${r.name} | ${r.target ?? ''} | ${cells.join(' | ')} |`);
  }
  return lines;
}

function byKind(engines: readonly EngineFigures[], pick: (e: EngineFigures) => readonly QueryTiming[]): string[] {
  const kinds = [...new Set(engines.flatMap((e) => pick(e).map((t) => t.kind)))];
  return sideBySide(engines, kinds.map((kind) => ({ name: kind, value: (e: EngineFigures) => p(pick(e).filter((t) => t.kind === kind), 50) })));
}

export function renderMasterReport(r: MasterReport): string {
  const o = r.opts;
  const e = r.engines;
  const reportMs = (name: string) => (f: EngineFigures) => f.reports.find((x) => x.name.startsWith(name))?.ms ?? Number.NaN;
  const out: string[] = [
    '# Master benchmark: SQLite and PostgreSQL side by side',
    '',
    `${r.date.slice(0, 16).replace('T', ' ')} UTC · ${r.cores} cores (${r.cpuModel}) · ${r.memGiB} GiB · Node ${r.node} · run took ${int(r.durationS)} s · ` +
      `load average ${r.load[0].toFixed(1)} at the start, ${r.load[1].toFixed(1)} at the end${Math.max(...r.load) > r.cores ? ' (other work shared the machine: figures of one run vary with it)' : ''}`,
    '',
    `Each engine gets the same seeded data: ${int(o.messages)} message log rows over ${o.days} days ending today (a day partition each on PostgreSQL, ` +
      `plus tomorrow's made ahead), ${int(o.quarantine)} quarantine index rows, loaded in bulk (preparation, not a figure; PostgreSQL is then ` +
      `VACUUM ANALYZEd, as autovacuum would have done by then; SQLite runs as the master opens it, no ANALYZE). Then ${int(o.ingest)} events through ` +
      `the real \`ingestBatch\` in batches of ${o.batch} (the scanners' default), four nodes interleaved, into today's partition; the reports; ` +
      `the searches (page of 50, warm cache); 200 look-ups by id of random messages. Everything on this one machine, the benchmark, ` +
      `its database servers and the standby sharing its ${r.cores} cores. The issue's targets are at 10 M rows (\`--full\`); ` +
      `${o.messages >= 10_000_000 ? 'this run is at that size' : 'this run is smaller (docs/database.md weighs its figures against the targets)'}.`,
    '',
    ...e.map((f) => `- **${ENGINE_LABELS[f.key]}**: ${f.description}. ${int(f.messages)} messages after the ingest${f.partitions ? ` in ${f.partitions} day partitions` : ''}, ${gib(f.bytes)} on disk, loaded in ${int(f.loadS)} s; the top lists' heads of the days before today taken in ${f.headsS.toFixed(1)} s (the master's top-heads job, data/top-heads.ts).`),
    ...r.skipped.map((s) => `- skipped: ${s}`),
    '',
    '## Headline',
    '',
    ...sideBySide(e, [
      { name: 'event ingest (events/s)', target: '≥ 20,000 on PostgreSQL with the sync standby', value: (f) => f.ingest.eventsPerS, format: int },
      { name: `traffic report, ${o.days} days by day (ms)`, target: '< 500', value: reportMs('traffic, ') },
      { name: `top 10 senders, ${o.days} days (ms)`, target: '< 500', value: reportMs('top 10 senders') },
      { name: 'quarantine search p50 (ms)', target: '< 50', value: (f) => p(f.quarantineTimings, 50) },
      { name: 'quarantine search p99 (ms)', target: '< 50', value: (f) => p(f.quarantineTimings, 99) },
      { name: 'message log search p50 (ms)', value: (f) => p(f.messageTimings, 50) },
      { name: 'message log search p99 (ms)', value: (f) => p(f.messageTimings, 99) },
      { name: 'message by id p50 (ms)', value: (f) => f.lookup.p50 },
      { name: 'message by id p99 (ms)', value: (f) => f.lookup.p99 },
    ]),
    '',
    '## Ingest',
    '',
    ...sideBySide(e, [
      { name: 'events/s', value: (f) => f.ingest.eventsPerS, format: int },
      { name: 'batch p50 (ms)', value: (f) => f.ingest.batchP50Ms },
      { name: 'batch p99 (ms)', value: (f) => f.ingest.batchP99Ms },
      { name: 're-sent batches: events/s (stored again: none)', value: (f) => (f.ingest.resentStored === 0 ? f.ingest.resentEventsPerS : Number.NaN), format: int },
    ]),
    '',
    e[0] ? `Events per run: ${Object.entries(e[0].ingest.byType).map(([t, n]) => `${int(n)} ${t}`).join(', ')}; ${int(e[0].ingest.batches)} batches.` : '',
    '',
    `## Reports over ${o.days} days (from the roll-ups, median of 5, ms)`,
    '',
    ...sideBySide(e, (e[0]?.reports ?? []).map((x) => ({ name: x.name, value: reportMs(x.name) }))),
    '',
    `## Quarantine search (${int(o.quarantine)} entries, 100 queries, p50 ms by kind)`,
    '',
    ...byKind(e, (f) => f.quarantineTimings),
    '',
    `## Message log search (55 queries, p50 ms by kind)`,
    '',
    ...byKind(e, (f) => f.messageTimings),
    '',
  ];
  const pf = r.partitions;
  if (pf) {
    const n = pf.many.partitions;
    const cell = (c: typeof pf.one, name: string) => c.ops.find((x) => x.name === name)?.ms ?? Number.NaN;
    out.push(
      '## Per partition (PostgreSQL): one day partition against many',
      '',
      `The main run's log in **${n} day partitions** (${int(pf.many.rows)} rows, about ${int(pf.rowsPerDay)} a day) against the same ` +
        `ingest and operations on a log of **one partition** holding as many rows as one of them (${int(pf.one.rows)} rows: a log ${n} times ` +
        `smaller, what a log growing by a day at a time does to the day's work), and on **one partition holding all** (${int(pf.oneAll.rows)} rows: ` +
        'what the number of partitions alone costs). The ingest writes into today\'s partition; operations: median of 7 (by id: per look-up), ' +
        'after ANALYZE. Bounded to a day or an id, an operation should not grow with the number of partitions; a search without a time range ' +
        'looks into every partition, and PostgreSQL plans each one. The message ids, the idempotency records and the roll-ups are not partitioned ' +
        'and grow with the log in every case.',
      '',
      `| operation | 1 partition, ${int(pf.one.rows)} rows | 1 partition, ${int(pf.oneAll.rows)} rows | ${n} partitions, ${int(pf.many.rows)} rows | ${n} ÷ 1 (same rows a day) | ${n} ÷ 1 (same rows in all) |`,
      '| --- | ---: | ---: | ---: | ---: | ---: |',
      `| ingest (events/s) | ${int(pf.one.ingestEventsPerS)} | ${int(pf.oneAll.ingestEventsPerS)} | ${int(pf.many.ingestEventsPerS)} | ${ratio(pf.many.ingestEventsPerS, pf.one.ingestEventsPerS)} | ${ratio(pf.many.ingestEventsPerS, pf.oneAll.ingestEventsPerS)} |`,
      `| ingest batch p50 (ms) | ${num(pf.one.ingestBatchP50Ms)} | ${num(pf.oneAll.ingestBatchP50Ms)} | ${num(pf.many.ingestBatchP50Ms)} | ${ratio(pf.many.ingestBatchP50Ms, pf.one.ingestBatchP50Ms)} | ${ratio(pf.many.ingestBatchP50Ms, pf.oneAll.ingestBatchP50Ms)} |`,
      ...pf.one.ops.map(({ name }) => {
        const [a, b, c] = [cell(pf.one, name), cell(pf.oneAll, name), cell(pf.many, name)];
        return `| ${name} (ms) | ${num(a)} | ${num(b)} | ${num(c)} | ${ratio(c, a)} | ${ratio(c, b)} |`;
      }),
      '',
    );
  }
  out.push(`Command: \`${r.command}\``, '');
  return out.join('\n');
}
