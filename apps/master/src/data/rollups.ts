import type { Db } from '@moat/storage';
import { DAY_MS, HOUR_MS, floorTo } from './time-buckets.ts';

/**
 * Report roll-ups. Each upsert adds `excluded.count` (1 from the ingest, more from a bulk
 * loader that pre-aggregates), so the one SQL text serves both.
 */
export const TRAFFIC_UPSERT_SQL = `INSERT INTO traffic_hourly (hour, node_id, action, count, bytes) VALUES (?, ?, ?, ?, ?)
  ON CONFLICT (hour, node_id, action) DO UPDATE SET count = count + excluded.count, bytes = bytes + excluded.bytes`;
export const TOP_UPSERT_SQL = `INSERT INTO top_senders_daily (kind, day, value, count) VALUES (?, ?, ?, ?)
  ON CONFLICT (kind, day, value) DO UPDATE SET count = count + excluded.count`;

export type TopKind = 'sender' | 'sender_domain' | 'recipient' | 'blocked_sender';
export const TOP_KINDS: readonly TopKind[] = ['sender', 'sender_domain', 'recipient', 'blocked_sender'];

/** One logged message as the roll-ups count it (addresses already normalised, recipients unique). */
export interface RollupMessage {
  readonly nodeId: string;
  readonly receivedAt: number;
  readonly action: string;
  readonly size: number;
  readonly mailFrom: string;
  readonly senderDomain: string;
  readonly recipients: readonly string[];
}

/** The (kind, value) pairs one message adds to the daily top lists. */
export function topEntries(m: RollupMessage): [TopKind, string][] {
  const out: [TopKind, string][] = [['sender', m.mailFrom], ['sender_domain', m.senderDomain]];
  for (const r of m.recipients) out.push(['recipient', r]);
  if (m.action === 'reject') out.push(['blocked_sender', m.mailFrom]);
  return out;
}

export function createRollups(db: Db) {
  const traffic = db.prepare(TRAFFIC_UPSERT_SQL);
  const top = db.prepare(TOP_UPSERT_SQL);
  return {
    add(m: RollupMessage): void {
      traffic.run(floorTo(m.receivedAt, HOUR_MS), m.nodeId, m.action, 1, m.size);
      const day = floorTo(m.receivedAt, DAY_MS);
      for (const [kind, value] of topEntries(m)) top.run(kind, day, value, 1);
    },
  };
}
export type Rollups = ReturnType<typeof createRollups>;
