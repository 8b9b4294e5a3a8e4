/**
 * The one-table summary of every benchmark, pure: each bench writes its own results file
 * (test/bench/results/*.md) with Moat and the baselines measured in the same run side by side;
 * this picks the headline figures out of those tables and lays them out next to each other.
 * A figure whose file, section or row is missing says so in its row instead of failing, so a
 * partial run still gives a summary (and the check in test/e2e/bench-summary.test.ts names it).
 */
export interface MdTable {
  /** The nearest `##` heading above the table ('' before the first). */
  readonly section: string;
  readonly header: readonly string[];
  readonly rows: readonly (readonly string[])[];
}

/** Every pipe table of a markdown document, with the section it sits in. */
export function parseTables(markdown: string): MdTable[] {
  const tables: MdTable[] = [];
  let section = '';
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const heading = /^#{2,3}\s+(.*)$/.exec(line);
    if (heading) section = heading[1]!.trim();
    if (!line.startsWith('|') || !/^\|\s*:?-{3,}/.test(lines[i + 1] ?? '')) continue;
    const header = cells(line);
    const rows: string[][] = [];
    for (i += 2; i < lines.length && lines[i]!.startsWith('|'); i++) rows.push(cells(lines[i]!));
    i--;
    tables.push({ section, header, rows });
  }
  return tables;
}

const cells = (line: string): string[] => line.replace(/^\|/, '').replace(/\|\s*$/, '').split(/(?<!\\)\|/).map((c) => c.trim());
const plain = (cell: string): string => cell.replace(/\*\*/g, '').trim();

/** The leading number of a cell ("1,247", "**10,685**", "17 (2 procs)", "+175%"); undefined for "—". */
export function numberIn(cell: string): number | undefined {
  const m = /^[+]?(-?[\d,]*\.?\d+)/.exec(plain(cell));
  return m ? Number(m[1]!.replace(/,/g, '')) : undefined;
}

/** One headline figure: where it is, which column is Moat and which columns are its baselines. */
export interface Pick {
  readonly area: string;
  readonly file: string;
  /** The figure's name in the summary. */
  readonly figure: string;
  readonly section: RegExp;
  readonly row: RegExp;
  readonly moat: RegExp;
  readonly baselines: readonly RegExp[];
  /** Whether a higher value is better (msg/s) or a lower one (ms, CPU, MiB). */
  readonly higherIsBetter: boolean;
}

export interface SummaryRow {
  readonly area: string;
  readonly figure: string;
  readonly moat: string;
  readonly baselines: readonly { name: string; value: string; ratio: string }[];
  readonly better: '↑' | '↓';
  readonly file: string;
  readonly date: string;
  /** Why the figure is missing, if it is. */
  readonly missing?: string;
}

/** The run's date as the file states it (first ISO date in it). */
export function runDate(markdown: string): string {
  return /\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2})?/.exec(markdown)?.[0]?.replace('T', ' ') ?? '?';
}

export function pickFigures(picks: readonly Pick[], files: ReadonlyMap<string, string>): SummaryRow[] {
  return picks.map((p) => {
    const base = { area: p.area, figure: p.figure, better: p.higherIsBetter ? '↑' as const : '↓' as const, file: p.file };
    const text = files.get(p.file);
    if (text === undefined) return { ...base, moat: '—', baselines: [], date: '—', missing: `${p.file} not found (bench not run)` };
    const date = runDate(text);
    const table = parseTables(text).find((t) => p.section.test(t.section) && t.rows.some((r) => p.row.test(plain(r[0] ?? ''))));
    const row = table?.rows.find((r) => p.row.test(plain(r[0] ?? '')));
    if (!table || !row) return { ...base, moat: '—', baselines: [], date, missing: `no row ${p.row} under a heading ${p.section} in ${p.file}` };
    const col = (re: RegExp) => table.header.findIndex((h) => re.test(plain(h)));
    const mi = col(p.moat);
    if (mi < 0) return { ...base, moat: '—', baselines: [], date, missing: `no column ${p.moat} in ${p.file} (${table.section})` };
    const moat = plain(row[mi] ?? '—');
    const mv = numberIn(moat);
    const baselines = p.baselines.flatMap((re) => {
      const bi = col(re);
      if (bi < 0) return [];
      const value = plain(row[bi] ?? '—');
      const bv = numberIn(value);
      return [{ name: plain(table.header[bi]!), value, ratio: mv !== undefined && bv !== undefined && bv !== 0 ? `${formatRatio(mv / bv)}×` : '—' }];
    });
    return { ...base, moat, baselines, date };
  });
}

function formatRatio(r: number): string {
  return r >= 100 ? Math.round(r).toLocaleString('en-US') : r >= 10 ? r.toFixed(1) : r >= 0.01 ? r.toFixed(2) : r.toPrecision(2);
}

export function formatSummary(rows: readonly SummaryRow[]): string {
  const lines = [
    '| area | figure | better | Moat | baseline (same run) | Moat ÷ baseline | run |',
    '| --- | --- | :---: | ---: | --- | ---: | --- |',
  ];
  for (const r of rows) {
    if (r.missing) {
      lines.push(`| ${r.area} | ${r.figure} | ${r.better} | — | *${r.missing.replace(/\|/g, '\\|')}* | — | ${r.date} |`);
      continue;
    }
    const b = r.baselines.length === 0 ? 'none in this bench' : r.baselines.map((x) => `${x.name}: ${x.value}`).join('<br>');
    const ratio = r.baselines.length === 0 ? '—' : r.baselines.map((x) => x.ratio).join('<br>');
    lines.push(`| ${r.area} | ${r.figure} | ${r.better} | **${r.moat}** | ${b} | ${ratio} | ${r.date} |`);
  }
  return lines.join('\n');
}
