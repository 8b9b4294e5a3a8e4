import { bucketStarts, type Bucket } from './time-buckets.ts';

export const ACTIONS = ['deliver', 'tag', 'quarantine', 'reject'] as const;
export type ActionName = (typeof ACTIONS)[number];

/** One bucket of the traffic report: messages per action, all messages, and their bytes. */
export interface TrafficRow {
  /** Bucket start, epoch ms (UTC). */
  readonly start: number;
  /** Present when the report is split per node. */
  readonly nodeId?: string;
  readonly deliver: number;
  readonly tag: number;
  readonly quarantine: number;
  readonly reject: number;
  readonly total: number;
  readonly bytes: number;
}

/** Grouped counts as SQL returns them. */
export interface TrafficCount {
  readonly start: number;
  readonly nodeId: string | null;
  readonly action: string;
  readonly count: number;
  readonly bytes: number;
}

/**
 * Counts → a complete series: every bucket of [from, to) present (zeros included, so a chart
 * has no gaps), per node when split (every node that had traffic in the range), oldest first.
 */
export function trafficSeries(counts: readonly TrafficCount[], from: number, to: number, bucket: Bucket, byNode: boolean): TrafficRow[] {
  const key = (start: number, node: string | null) => `${start}|${node ?? ''}`;
  const cells = new Map<string, { [A in ActionName]: number } & { total: number; bytes: number }>();
  for (const c of counts) {
    const k = key(c.start, byNode ? c.nodeId : null);
    const cell = cells.get(k) ?? { deliver: 0, tag: 0, quarantine: 0, reject: 0, total: 0, bytes: 0 };
    if ((ACTIONS as readonly string[]).includes(c.action)) cell[c.action as ActionName] += c.count;
    cell.total += c.count;
    cell.bytes += c.bytes;
    cells.set(k, cell);
  }
  const nodes = byNode ? [...new Set(counts.map((c) => c.nodeId ?? ''))].sort() : [null];
  const rows: TrafficRow[] = [];
  for (const start of bucketStarts(from, to, bucket)) {
    for (const node of nodes) {
      const cell = cells.get(key(start, node)) ?? { deliver: 0, tag: 0, quarantine: 0, reject: 0, total: 0, bytes: 0 };
      rows.push(node === null ? { start, ...cell } : { start, nodeId: node, ...cell });
    }
  }
  return rows;
}
