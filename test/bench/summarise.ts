/**
 * `node test/bench/summarise.ts [--results DIR] [--out FILE]` (the last step of `pnpm bench`):
 * reads the results file each benchmark wrote and writes one markdown table of the headline
 * figures, each next to the baselines measured in the same run, to
 * test/bench/results/summary.md (linked from the README). See lib/summary.ts.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { formatSummary, pickFigures, type Pick } from './lib/summary.ts';

const RESULTS = fileURLToPath(new URL('./results', import.meta.url));

const SCANNER = { moat: /^Moat scanner$/, baselines: [/^Postfix/, /^bare smtp-server sink$/] };
const BALANCER = { moat: /^Moat balancer$/, baselines: [/^nginx$/, /^HAProxy$/, /^direct$/] };
/** Row titles in console.md (each a prefix of one page's title); the figure is the time from the API answering to the data on screen at 1M messages, beside the same at the baseline size. */
const CONSOLE_PAGES = ['Dashboard', 'Quarantine list', 'Quarantine message', 'Message log', 'Message log: sender search', 'Message detail', 'Queue', 'Rules', 'Domains', 'Reports (30 days)', 'Users', 'Audit log'];
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export const PICKS: readonly Pick[] = [
  ...(['New connection per message', 'Reused connections'] as const).flatMap((mode) => [
    { area: 'scanner', file: 'scanner.md', figure: `${mode}: delivered msg/s`, section: new RegExp(`^${mode}`), row: /^delivered msg\/s$/, ...SCANNER, higherIsBetter: true },
    { area: 'scanner', file: 'scanner.md', figure: `${mode}: latency p99 (ms)`, section: new RegExp(`^${mode}`), row: /^latency p99/, ...SCANNER, higherIsBetter: false },
    { area: 'scanner', file: 'scanner.md', figure: `${mode}: peak RSS (MiB)`, section: new RegExp(`^${mode}`), row: /^peak RSS/, ...SCANNER, higherIsBetter: false },
  ]),
  { area: 'master', file: 'master-link.md', figure: 'events stored over the cluster link, PostgreSQL + sync standby (events/s)', section: /Event ingest/, row: /^events\/s over the link$/, moat: /^PostgreSQL \+ sync standby$/, baselines: [/^SQLite$/, /^PostgreSQL$/], higherIsBetter: true },
  ...(['p50', 'p99'] as const).map((p) => (
    { area: 'master', file: 'master-link.md', figure: `rules change → every ack recorded, 50 nodes over 2 masters on PostgreSQL + sync standby, ${p} (ms)`, section: /Rules change/, row: /^PUT \/api\/v1\/rules → every rules\.ack recorded$/, moat: new RegExp(`^PostgreSQL \\+ sync standby ${p}$`), baselines: [new RegExp(`^SQLite ${p}$`), new RegExp(`^PostgreSQL ${p}$`)], higherIsBetter: false }
  )),
  ...(['PostgreSQL + sync standby', 'PostgreSQL'] as const).flatMap((engine) => [
    { area: 'master', file: 'master.md', figure: `${engine}: event ingest (events/s)`, section: /^Headline/, row: /^event ingest/, moat: new RegExp(`^${escape(engine)}$`), baselines: [/^SQLite$/], higherIsBetter: true },
    { area: 'master', file: 'master.md', figure: `${engine}: top 10 senders over 30 days (ms)`, section: /^Headline/, row: /^top 10 senders, 30 days/, moat: new RegExp(`^${escape(engine)}$`), baselines: [/^SQLite$/], higherIsBetter: false },
    { area: 'master', file: 'master.md', figure: `${engine}: quarantine search p99 (ms)`, section: /^Headline/, row: /^quarantine search p99/, moat: new RegExp(`^${escape(engine)}$`), baselines: [/^SQLite$/], higherIsBetter: false },
  ]),
  { area: 'master', file: 'master-data.md', figure: 'ingest into a 10-million-row log (events/s)', section: /^Ingest/, row: /^throughput$/, moat: /^value$/, baselines: [], higherIsBetter: true },
  { area: 'master', file: 'master-data.md', figure: 'report: traffic over 30 days by day (ms)', section: /^Reports/, row: /^traffic, 30 days by day$/, moat: /^from the roll-ups/, baselines: [/^scanning the message log/], higherIsBetter: false },
  { area: 'master', file: 'master-data.md', figure: 'report: top 10 senders over 30 days (ms)', section: /^Reports/, row: /^top 10 senders, 30 days$/, moat: /^from the roll-ups/, baselines: [/^scanning the message log/], higherIsBetter: false },
  ...([['New connection per message', 'proxy CPU per connection'], ['Reused connections', 'proxy CPU per message']] as const).flatMap(([mode, cpu]) => [
    { area: 'balancer', file: 'balancer.md', figure: `${mode}: msg/s`, section: new RegExp(`^${mode}`), row: /^msg\/s/, ...BALANCER, higherIsBetter: true },
    { area: 'balancer', file: 'balancer.md', figure: `${mode}: ${cpu} (µs)`, section: new RegExp(`^${mode}`), row: new RegExp(`^${cpu}`), ...BALANCER, higherIsBetter: false },
    { area: 'balancer', file: 'balancer.md', figure: `${mode}: latency p99 (ms)`, section: new RegExp(`^${mode}`), row: /^latency p99/, ...BALANCER, higherIsBetter: false },
    { area: 'balancer', file: 'balancer.md', figure: `${mode}: peak RSS (MiB)`, section: new RegExp(`^${mode}`), row: /^peak RSS/, ...BALANCER, higherIsBetter: false },
  ]),
  ...(['New connection per message', 'Reused connections'] as const).map((mode) => (
    { area: 'balancer', file: 'balancer-scanner.md', figure: `in front of a scanner, ${mode}: latency p99 (ms)`, section: new RegExp(`^${mode}`), row: /^latency p99/, ...BALANCER, higherIsBetter: false }
  )),
  ...(['After moat learn', 'Before learning', 'Online, each wrong verdict corrected'] as const).flatMap((phase) => [
    { area: 'detection', file: 'detection.md', figure: `${phase}: spam caught (%)`, section: new RegExp(`^${phase}`), row: /^spam caught$/, moat: /^Moat$/, baselines: [/^SpamAssassin alone$/, /^Rspamd alone$/], higherIsBetter: true },
    { area: 'detection', file: 'detection.md', figure: `${phase}: ham flagged (%)`, section: new RegExp(`^${phase}`), row: /^ham flagged$/, moat: /^Moat$/, baselines: [/^SpamAssassin alone$/, /^Rspamd alone$/], higherIsBetter: false },
  ]),
  { area: 'detection', file: 'detection.md', figure: 'full pipeline msg/s, 4 sessions', section: /^Throughput/, row: /^msg\/s/, moat: /^Moat$/, baselines: [/^SpamAssassin alone$/], higherIsBetter: true },
  ...CONSOLE_PAGES.map((page) => ({ area: 'console', file: 'console.md', figure: `${page}: data on screen after the API answered, 1M vs 1k logged messages (ms)`, section: /.*/, row: new RegExp(`^${escape(page)}(?!:)`), moat: /^after API \(ms\)$/, baselines: [/^baseline: after API \(ms\)$/], higherIsBetter: false })),
];

/** Read the results files the picks name from `dir`, and lay out the summary. */
export function summarise(dir: string): { markdown: string; missing: string[] } {
  const files = new Map<string, string>();
  for (const f of new Set(PICKS.map((p) => p.file))) if (existsSync(join(dir, f))) files.set(f, readFileSync(join(dir, f), 'utf8'));
  const rows = pickFigures(PICKS, files);
  const markdown = [
    '# Benchmarks: one table',
    '',
    'Written by `pnpm bench` (every benchmark, then `node test/bench/summarise.ts`) from the results files in this folder; each figure sits next to the baseline(s) measured in the same run of its benchmark (the *run* column is that run\'s date: benchmarks run one after another, so a partial run leaves older figures of the others). Ratio = Moat ÷ baseline; *better* says whether a higher (↑) or lower (↓) value is better. Details, commands and how each figure is measured: [scanner](scanner.md), [master link](master-link.md), [master on both engines](master.md), [master data](master-data.md), [balancer](balancer.md) (and [in front of a scanner](balancer-scanner.md)), [console](console.md), [detection](detection.md); machine and trade-offs in [docs/performance.md](../../../docs/performance.md).',
    '',
    formatSummary(rows),
    '',
  ].join('\n');
  return { markdown, missing: rows.flatMap((r) => (r.missing ? [r.missing] : [])) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { results: { type: 'string', default: RESULTS }, out: { type: 'string' } } });
  const dir = values.results!;
  const out = values.out ?? join(dir, 'summary.md');
  const { markdown, missing } = summarise(dir);
  writeFileSync(out, markdown);
  process.stdout.write(`${markdown}\n(written to ${out})\n`);
  for (const m of missing) process.stderr.write(`missing: ${m}\n`);
}
