import type { Db } from '@moat/storage';
import type { Reason } from '@moat/rules';
import type { QuarantineStatus } from '../data/quarantine-writer.ts';
import { categoryOf } from './categories.ts';
import type { Category } from './settings-schema.ts';

/** One held message as a digest lists it, for one recipient. */
export interface HeldForRecipient {
  readonly rid: number;
  readonly nodeId: string;
  readonly id: string;
  readonly createdAt: number;
  readonly mailFrom: string;
  readonly subject: string;
  readonly reasons: readonly Reason[];
  readonly status: QuarantineStatus;
}

interface Row {
  rid: number;
  node_id: string;
  id: string;
  created_at: number;
  mail_from: string;
  subject: string;
  reasons: string;
  rcpt_to: string;
  status: QuarantineStatus;
}

const toItem = (r: Row): HeldForRecipient => ({
  rid: r.rid, nodeId: r.node_id, id: r.id, createdAt: r.created_at, mailFrom: r.mail_from, subject: r.subject,
  reasons: JSON.parse(r.reasons) as Reason[], status: r.status,
});

/**
 * Reads of the central quarantine index for digests and the end-user page, and the record of
 * which message was already listed to whom. Recipients are compared lower-cased (the index
 * stores them so).
 */
export function createDigestRepository(db: Db) {
  const heldSince = db.prepare<[number], Row>(`SELECT rid, node_id, id, created_at, mail_from, subject, reasons, rcpt_to, status
    FROM quarantine WHERE status = 'held' AND created_at >= ? ORDER BY created_at, rid`);
  const wasSent = db.prepare<[number, string], { one: number }>('SELECT 1 AS one FROM digest_sent WHERE rid = ? AND rcpt = ?');
  const insertSent = db.prepare('INSERT OR IGNORE INTO digest_sent (rid, rcpt, sent_at, node_id, queue_id) VALUES (?, ?, ?, ?, ?)');
  const pruneSent = db.prepare('DELETE FROM digest_sent WHERE sent_at < ?');
  const forRecipient = db.prepare<[string, number, number], Row>(`SELECT q.rid, q.node_id, q.id, q.created_at, q.mail_from, q.subject, q.reasons, q.rcpt_to, q.status
    FROM quarantine_rcpts r JOIN quarantine q ON q.rid = r.rid
    WHERE r.rcpt = ? AND r.created_at >= ? AND q.status = 'held'
      AND NOT EXISTS (SELECT 1 FROM enduser_copies c WHERE c.rid = q.rid AND c.rcpt = r.rcpt)
    ORDER BY r.created_at DESC LIMIT ?`);
  const copyDone = db.prepare<[number, string], { action: 'release' | 'delete' }>('SELECT action FROM enduser_copies WHERE rid = ? AND rcpt = ?');
  const insertCopy = db.prepare('INSERT OR IGNORE INTO enduser_copies (rid, rcpt, action, at, queue_id) VALUES (?, ?, ?, ?, ?)');
  const byId = db.prepare<[string, string], Row>(`SELECT rid, node_id, id, created_at, mail_from, subject, reasons, rcpt_to, status
    FROM quarantine WHERE node_id = ? AND id = ?`);
  const markTx = db.transaction((items: readonly HeldForRecipient[], rcpt: string, at: number, nodeId: string, queueId: string) => {
    for (const item of items) insertSent.run(item.rid, rcpt, at, nodeId, queueId);
  });

  return {
    /**
     * Held messages not yet listed to their recipient, by recipient, oldest first; only the
     * given categories; at most `perRecipient` each (the rest wait for the next round).
     */
    pending(since: number, categories: readonly Category[], perRecipient: number): Map<string, HeldForRecipient[]> {
      const out = new Map<string, HeldForRecipient[]>();
      for (const row of heldSince.iterate(since)) {
        const item = toItem(row);
        if (!categories.includes(categoryOf(item.reasons))) continue;
        for (const rcpt of JSON.parse(row.rcpt_to) as string[]) {
          if (wasSent.get(row.rid, rcpt) || copyDone.get(row.rid, rcpt)) continue;
          const list = out.get(rcpt) ?? [];
          if (list.length >= perRecipient) continue;
          list.push(item);
          out.set(rcpt, list);
        }
      }
      return out;
    },
    /** These messages are in a digest now queued on `nodeId` as `queueId`. */
    markSent: (items: readonly HeldForRecipient[], rcpt: string, at: number, nodeId: string, queueId: string): void => markTx(items, rcpt, at, nodeId, queueId),
    /** Forget what was sent before `before` (those messages are past the digests' age limit). */
    prune: (before: number): number => pruneSent.run(before).changes,
    /** A recipient's own held messages, newest first, of the given categories. */
    heldFor(rcpt: string, since: number, categories: readonly Category[], limit: number): HeldForRecipient[] {
      return forRecipient.all(rcpt, since, limit).map(toItem).filter((i) => categories.includes(categoryOf(i.reasons)));
    },
    /** What this recipient did with their copy of a message held for several, if anything. */
    copyAction: (rid: number, rcpt: string): 'release' | 'delete' | undefined => copyDone.get(rid, rcpt)?.action,
    /** Record it; false if something was recorded already (the first action stands). */
    recordCopy: (rid: number, rcpt: string, action: 'release' | 'delete', at: number, queueId: string | null): boolean => insertCopy.run(rid, rcpt, action, at, queueId).changes > 0,
    /** One entry of the index with its recipients, whatever its status. */
    get(nodeId: string, id: string): (HeldForRecipient & { readonly rcptTo: readonly string[] }) | undefined {
      const row = byId.get(nodeId, id);
      return row ? { ...toItem(row), rcptTo: JSON.parse(row.rcpt_to) as string[] } : undefined;
    },
  };
}
export type DigestRepository = ReturnType<typeof createDigestRepository>;
