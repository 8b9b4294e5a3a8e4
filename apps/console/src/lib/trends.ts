import { bytes } from './format.ts';

/** GET /api/v1/nodes/trends: throughput now and each node's last hour of heartbeats. */
export interface Rate { deliver: number; tag: number; quarantine: number; reject: number; total: number; seconds: number }
export interface TrendSample { at: string; queueDepth: number; outboxBacklog: number; quarantineBytes?: number; retainedBytes?: number }
export interface NodeDisk { reportedAt: string; quarantineBytes: number; quarantineMaxBytes: number; retainedBytes: number; retainedMaxBytes?: number }
export interface NodeTrend { id: string; name: string; online: boolean; throughput: Rate | null; disk: NodeDisk | null; samples: TrendSample[] }
export interface Trends { at: string; windowSeconds: number; stepSeconds: number; cluster: { throughput: Rate | null }; nodes: NodeTrend[] }

/** One line of a trend chart: times in seconds (uPlot's unit) and a value at each. */
export interface Line {
  readonly label: string;
  readonly colour: string;
  readonly x: number[];
  readonly y: number[];
}

/** Colours for one line per node, in turn (distinct from each other on white). */
export const NODE_COLOURS = ['#1570ef', '#dd2590', '#099250', '#dc6803', '#6938ef', '#0e9384', '#c11574', '#4e5ba6'];

/** Messages a second as people read them: 0, 0.05, 1.2, 37. */
export function perSecond(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  if (n === 0) return '0';
  if (n < 0.01) return '<0.01';
  if (n < 10) return String(Math.round(n * 100) / 100);
  return String(Math.round(n));
}

/** One line per node that has samples, of the value `pick` reads from each. */
export function nodeLines(nodes: readonly NodeTrend[], pick: (s: TrendSample) => number | undefined): Line[] {
  return nodes.flatMap((n, i) => {
    const points = n.samples.flatMap((s) => {
      const v = pick(s);
      return v === undefined ? [] : [[Date.parse(s.at) / 1000, v] as const];
    });
    return points.length === 0 ? [] : [{ label: n.name, colour: NODE_COLOURS[i % NODE_COLOURS.length]!, x: points.map((p) => p[0]), y: points.map((p) => p[1]) }];
  });
}

/** A budgeted store's use on a node: "12.0 MiB of 1024.0 MiB (1%)", or without a budget just the bytes. */
export interface StoreUse { readonly store: 'quarantine' | 'retention'; readonly used: number; readonly budget: number | null; readonly percent: number | null; readonly text: string }

export function diskUse(d: NodeDisk): StoreUse[] {
  const one = (store: StoreUse['store'], used: number, budget: number | null): StoreUse => {
    const percent = budget ? Math.min(100, (used / budget) * 100) : null;
    const shown = percent === null ? '' : percent > 0 && percent < 1 ? ' (<1%)' : ` (${Math.round(percent)}%)`;
    return { store, used, budget, percent, text: budget ? `${bytes(used)} of ${bytes(budget)}${shown}` : `${bytes(used)} (no budget)` };
  };
  return [
    one('quarantine', d.quarantineBytes, d.quarantineMaxBytes > 0 ? d.quarantineMaxBytes : null),
    ...(d.retainedMaxBytes === undefined ? [] : [one('retention', d.retainedBytes, d.retainedMaxBytes > 0 ? d.retainedMaxBytes : null)]),
  ];
}
