import type { Db } from '@moat/storage';
import { DAY_MS, HOUR_MS, floorTo } from './time-buckets.ts';
import { REASON_TOP_KINDS, reasonTopEntries, type ReasonLike, type ReasonTopKind } from './reason-tops.ts';

/**
 * Report roll-ups. Each upsert adds `excluded.count`, so increments gathered in memory over a
 * batch are written once per key: a batch of 1,000 messages touches a handful of hourly rows
 * and a few hundred daily top-list rows instead of several thousand.
 */
export const TRAFFIC_UPSERT_SQL = `INSERT INTO traffic_hourly (hour, node_id, action, count, bytes) VALUES (?, ?, ?, ?, ?)
  ON CONFLICT (hour, node_id, action) DO UPDATE SET count = count + excluded.count, bytes = bytes + excluded.bytes`;
export const TOP_UPSERT_SQL = `INSERT INTO top_senders_daily (kind, day, node_id, value, count) VALUES (?, ?, ?, ?, ?)
  ON CONFLICT (kind, day, node_id, value) DO UPDATE SET count = count + excluded.count`;

/** Address lists, and (from the reasons) virus names and domains failing SPF, DKIM, DMARC. */
export type TopKind = 'sender' | 'sender_domain' | 'recipient' | 'blocked_sender' | ReasonTopKind;
export const TOP_KINDS: readonly TopKind[] = ['sender', 'sender_domain', 'recipient', 'blocked_sender', ...REASON_TOP_KINDS];

/** One logged message as the roll-ups count it (addresses already normalised, recipients unique). */
export interface RollupMessage {
  readonly nodeId: string;
  readonly receivedAt: number;
  readonly action: string;
  readonly size: number;
  readonly mailFrom: string;
  readonly senderDomain: string;
  readonly recipients: readonly string[];
  readonly reasons: readonly ReasonLike[];
  /** How many log events the entry stands for: more than 1 for a scanner's aggregate of refusals. Default 1. */
  readonly count?: number;
  /** Set for a refused transaction: refused at `connect`, it has no sender to count. */
  readonly refusalStage?: string;
}

/** The (kind, value) pairs one message adds to the daily top lists. */
export function topEntries(m: RollupMessage): [TopKind, string][] {
  const out: [TopKind, string][] = [];
  const hasSender = m.refusalStage !== 'connect';
  if (hasSender) out.push(['sender', m.mailFrom], ['sender_domain', m.senderDomain]);
  for (const r of m.recipients) out.push(['recipient', r]);
  if (m.action === 'reject' && hasSender) out.push(['blocked_sender', m.mailFrom]);
  out.push(...reasonTopEntries(m.reasons));
  return out;
}

/** Roll-up increments, gathered by `add` and written by `flush` (call it inside the same transaction). */
export function createRollups(db: Db) {
  const trafficStmt = db.prepare(TRAFFIC_UPSERT_SQL);
  const topStmt = db.prepare(TOP_UPSERT_SQL);
  const traffic = new Map<string, [hour: number, nodeId: string, action: string, count: number, bytes: number]>();
  const top = new Map<string, [kind: TopKind, day: number, nodeId: string, value: string, count: number]>();
  return {
    add(m: RollupMessage): void {
      const n = m.count ?? 1;
      const hour = floorTo(m.receivedAt, HOUR_MS);
      const tk = `${hour}\0${m.nodeId}\0${m.action}`;
      const t = traffic.get(tk);
      if (t) {
        t[3] += n;
        t[4] += m.size * n;
      } else traffic.set(tk, [hour, m.nodeId, m.action, n, m.size * n]);
      const day = floorTo(m.receivedAt, DAY_MS);
      for (const [kind, value] of topEntries(m)) {
        const k = `${kind}\0${day}\0${m.nodeId}\0${value}`;
        const e = top.get(k);
        if (e) e[4] += n;
        else top.set(k, [kind, day, m.nodeId, value, n]);
      }
    },
    flush(): void {
      for (const v of traffic.values()) trafficStmt.run(v);
      for (const v of top.values()) topStmt.run(v);
      traffic.clear();
      top.clear();
    },
    /** Drop what was gathered (the transaction it belonged to failed). */
    discard(): void {
      traffic.clear();
      top.clear();
    },
  };
}
export type Rollups = ReturnType<typeof createRollups>;
