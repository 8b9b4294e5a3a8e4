import type { Kysely } from 'kysely';
import type { MasterSchema } from '../db/schema.ts';
import { inChunks } from './in-chunks.ts';
import { DAY_MS, HOUR_MS, floorTo } from './time-buckets.ts';
import { REASON_TOP_KINDS, reasonTopEntries, type ReasonLike, type ReasonTopKind } from './reason-tops.ts';

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

/**
 * Report roll-ups. Each upsert adds `excluded.count`, so increments gathered in memory over a
 * batch are written once per key, many keys per statement: a batch of 1,000 messages touches a
 * handful of hourly rows and a few hundred daily top-list rows instead of several thousand.
 * Keys are written in sorted order, so two masters ingesting at once on PostgreSQL lock rows
 * in the same order (no deadlock).
 *
 * Increments are gathered by `add` and written by `flush` into `db` (the batch's transaction).
 */
export function createRollups(db: Kysely<MasterSchema>) {
  const traffic = new Map<string, { hour: number; node_id: string; action: string; count: number; bytes: number }>();
  const top = new Map<string, { kind: TopKind; day: number; node_id: string; value: string; count: number }>();
  return {
    add(m: RollupMessage): void {
      const n = m.count ?? 1;
      const hour = floorTo(m.receivedAt, HOUR_MS);
      const tk = `${hour}\0${m.nodeId}\0${m.action}`;
      const t = traffic.get(tk);
      if (t) {
        t.count += n;
        t.bytes += m.size * n;
      } else traffic.set(tk, { hour, node_id: m.nodeId, action: m.action, count: n, bytes: m.size * n });
      const day = floorTo(m.receivedAt, DAY_MS);
      for (const [kind, value] of topEntries(m)) {
        const k = `${kind}\0${day}\0${m.nodeId}\0${value}`;
        const e = top.get(k);
        if (e) e.count += n;
        else top.set(k, { kind, day, node_id: m.nodeId, value, count: n });
      }
    },
    async flush(): Promise<void> {
      const byKey = <T>(rows: Map<string, T>): T[] => [...rows.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
      await inChunks(byKey(traffic), (rows) => db.insertInto('traffic_hourly').values(rows)
        .onConflict((oc) => oc.columns(['hour', 'node_id', 'action']).doUpdateSet((eb) => ({
          count: eb('traffic_hourly.count', '+', eb.ref('excluded.count')),
          bytes: eb('traffic_hourly.bytes', '+', eb.ref('excluded.bytes')),
        }))).execute());
      await inChunks(byKey(top), (rows) => db.insertInto('top_senders_daily').values(rows)
        .onConflict((oc) => oc.columns(['kind', 'day', 'node_id', 'value']).doUpdateSet((eb) => ({ count: eb('top_senders_daily.count', '+', eb.ref('excluded.count')) }))).execute());
      traffic.clear();
      top.clear();
    },
  };
}
export type Rollups = ReturnType<typeof createRollups>;
