/** Turns the master data benchmark's measurements into the markdown report. */
import type { IngestFigures } from './master-data-ingest.ts';
import { percentile } from './lib/stats.ts';

export interface QueryTiming {
  readonly kind: string;
  readonly ms: number;
  readonly rows: number;
}

export interface ReportTiming {
  readonly name: string;
  readonly rollupMs: number;
  readonly scanMs: number | undefined;
  readonly same: boolean | undefined;
}

export interface BenchResult {
  readonly date: string;
  readonly cores: number;
  readonly cpuModel: string;
  readonly memGiB: number;
  readonly node: string;
  readonly sqlite: string;
  readonly command: string;
  readonly days: number;
  readonly messages: number;
  readonly quarantine: number;
  readonly events: number;
  readonly rollupRows: { traffic: number; top: number };
  readonly dbBytes: number;
  readonly loadMessagesS: number;
  readonly loadQuarantineS: number;
  readonly bulkMessages: number;
  readonly bulkQuarantine: number;
  readonly ingest: IngestFigures;
  readonly quarantineTimings: readonly QueryTiming[];
  readonly messageTimings: readonly QueryTiming[];
  readonly reportTimings: readonly ReportTiming[];
  readonly durationS: number;
}

const n = (v: number): string => Math.round(v).toLocaleString('en-US');
const fmtMs = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

function queryTable(timings: readonly QueryTiming[]): string[] {
  const all = [...timings].map((t) => t.ms).sort((a, b) => a - b);
  const lines = [
    `All ${timings.length} queries: **p50 ${fmtMs(percentile(all, 50))} ms, p99 ${fmtMs(percentile(all, 99))} ms**, max ${fmtMs(all.at(-1)!)} ms.`,
    '',
    '| kind | queries | p50 ms | max ms | rows returned (avg, page of 50) |',
    '| --- | ---: | ---: | ---: | ---: |',
  ];
  const kinds = [...new Set(timings.map((t) => t.kind))];
  for (const kind of kinds) {
    const of = timings.filter((t) => t.kind === kind);
    const sorted = of.map((t) => t.ms).sort((a, b) => a - b);
    lines.push(`| ${kind} | ${of.length} | ${fmtMs(percentile(sorted, 50))} | ${fmtMs(sorted.at(-1)!)} | ${(of.reduce((a, t) => a + t.rows, 0) / of.length).toFixed(1)} |`);
  }
  return lines;
}

export function renderReport(r: BenchResult): string {
  const i = r.ingest;
  const lines = [
    '# Master data benchmark',
    '',
    `${r.date.slice(0, 10)} · ${r.cores} cores (${r.cpuModel}) · ${r.memGiB} GiB · Node ${r.node} · SQLite ${r.sqlite} (WAL, synchronous=FULL, default page cache) · run took ${n(r.durationS)} s`,
    '',
    `Database: ${n(r.messages)} message log rows, ${n(r.quarantine)} quarantine index rows, ${n(r.events)} idempotency records, ` +
      `${n(r.rollupRows.traffic)} hourly traffic and ${n(r.rollupRows.top)} daily top-list roll-up rows over ${r.days} days; ${(r.dbBytes / 2 ** 30).toFixed(2)} GiB on disk. ` +
      `Built with multi-row inserts (not a figure of the product): ${n(r.bulkMessages / r.loadMessagesS)} messages/s, ${n(r.bulkQuarantine / r.loadQuarantineS)} quarantine rows/s.`,
    '',
    '## Ingest (ingestBatch, one transaction per batch, exactly once)',
    '',
    '| figure | value |',
    '| --- | ---: |',
    `| events | ${n(i.events)} (${Object.entries(i.byType).map(([k, v]) => `${n(v)} ${k}`).join(', ')}) |`,
    `| batches of ${n(i.batch)} events, 4 nodes interleaved | ${n(i.batches)} |`,
    `| **throughput** | **${n(i.eventsPerS)} events/s** |`,
    `| batch latency p50 / p99 | ${fmtMs(i.batchP50Ms)} / ${fmtMs(i.batchP99Ms)} ms |`,
    `| re-sent batches (lost ack): events / stored again | ${n(i.resentEvents)} / ${n(i.resentStored)} (${n(i.resentEventsPerS)} events/s) |`,
    '',
    `## Quarantine search (${n(r.quarantine)} entries, ${r.quarantineTimings.length} varied queries, page of 50, warm cache)`,
    '',
    ...queryTable(r.quarantineTimings),
    '',
    `## Message log search (${n(r.messages)} messages, page of 50, warm cache)`,
    '',
    ...queryTable(r.messageTimings),
    '',
    `## Reports over ${r.days} days`,
    '',
    '| report | from the roll-ups (ms, median of 5) | scanning the message log (ms) | ratio | same result |',
    '| --- | ---: | ---: | ---: | :---: |',
    ...r.reportTimings.map((t) =>
      `| ${t.name} | ${fmtMs(t.rollupMs)} | ${t.scanMs === undefined ? '—' : fmtMs(t.scanMs)} | ${t.scanMs === undefined ? '—' : `${n(t.scanMs / t.rollupMs)}×`} | ${t.same === undefined ? '—' : t.same ? 'yes' : '**NO**'} |`),
    '',
    `Command: \`${r.command}\``,
    '',
  ];
  return lines.join('\n');
}
