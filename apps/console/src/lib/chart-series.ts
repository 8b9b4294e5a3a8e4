/** One bucket of GET /reports/traffic (with byNode=true, one per bucket and node). */
export interface TrafficRow {
  readonly start: string;
  readonly nodeId?: string;
  readonly deliver: number;
  readonly tag: number;
  readonly quarantine: number;
  readonly reject: number;
  readonly total: number;
}

export const VERDICTS = [
  ['deliver', 'accepted', '#2e90fa'],
  ['tag', 'tagged', '#f79009'],
  ['quarantine', 'quarantined', '#7a5af8'],
  ['reject', 'rejected', '#d92d20'],
] as const;

/** Colours for a node split, in turn (distinct from each other on white). */
const NODE_COLOURS = ['#1570ef', '#dd2590', '#099250', '#dc6803', '#6938ef', '#0e9384', '#c11574', '#4e5ba6'];

export interface StackSeries {
  readonly key: string;
  readonly label: string;
  readonly colour: string;
  /** Messages per bucket. */
  readonly counts: number[];
  /** The top of this series' segment: its counts plus those of every series below it. */
  readonly top: number[];
  readonly total: number;
}

/** Stacked bar data: bucket starts in seconds (uPlot's time unit) and the series bottom first. */
export interface Stack {
  readonly x: number[];
  readonly series: StackSeries[];
}

/** Stack parts bottom up (also used to restack what is left when the legend hides a series). */
export function stack(x: number[], parts: ReadonlyArray<{ key: string; label: string; colour: string; counts: number[] }>): Stack {
  const running = x.map(() => 0);
  const series = parts.map((p) => {
    const top = p.counts.map((c, i) => (running[i]! += c));
    return { key: p.key, label: p.label, colour: p.colour, counts: p.counts, top, total: p.counts.reduce((a, c) => a + c, 0) };
  });
  return { x, series };
}

/** One series per verdict, accepted at the bottom. */
export function verdictStack(rows: readonly TrafficRow[]): Stack {
  const x = rows.map((r) => Date.parse(r.start) / 1000);
  return stack(x, VERDICTS.map(([key, label, colour]) => ({ key, label, colour, counts: rows.map((r) => r[key]) })));
}

/** One series per node (all verdicts together), in the order the nodes first appear. */
export function nodeStack(rows: readonly TrafficRow[], nameOf: (nodeId: string) => string): Stack {
  const starts = [...new Set(rows.map((r) => r.start))].sort();
  const slot = new Map(starts.map((s, i) => [s, i]));
  const byNode = new Map<string, number[]>();
  for (const r of rows) {
    const id = r.nodeId ?? '';
    let counts = byNode.get(id);
    if (!counts) byNode.set(id, (counts = starts.map(() => 0)));
    counts[slot.get(r.start)!]! += r.total;
  }
  const parts = [...byNode].map(([id, counts], i) => ({ key: id, label: nameOf(id), colour: NODE_COLOURS[i % NODE_COLOURS.length]!, counts }));
  return stack(starts.map((s) => Date.parse(s) / 1000), parts);
}
