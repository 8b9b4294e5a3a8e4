import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Reason } from '@moat/rules';
import type { QuarantineStatus } from '../data/quarantine-writer.ts';
import { inChunks } from '../data/in-chunks.ts';
import type { MasterSchema } from '../db/schema.ts';
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

/** A recipient's messages taken for one digest by this master (`claim`). */
export interface DigestClaim {
  readonly rcpt: string;
  readonly items: readonly HeldForRecipient[];
  /** Stored as the rows' queue id until the digest is queued (never a scanner's queue id: those have no colon). */
  readonly token: string;
}

/**
 * A claim not turned into a queued digest within this long is taken again by the next round:
 * its master died between the claim and the scanner's answer (or never got the answer). Far
 * longer than a hand-off to a scanner takes (the cluster's request timeout).
 */
export const CLAIM_TIMEOUT_MS = 10 * 60_000;
const CLAIM_PREFIX = 'claim:';

const COLUMNS = ['q.rid', 'q.node_id', 'q.id', 'q.created_at', 'q.mail_from', 'q.subject', 'q.reasons', 'q.rcpt_to', 'q.status'] as const;
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
const key = (rid: number, rcpt: string) => `${rid} ${rcpt}`;

/**
 * Reads of the central quarantine index for digests and the end-user page, and the record of
 * which message was listed to whom (`digest_sent`, keyed by the index's rid and the recipient).
 * Recipients are compared lower-cased (the index stores them so).
 *
 * Each message is listed to each recipient once, whichever master runs the round: a round
 * claims a recipient's messages before it sends their digest, in one statement (`INSERT … ON
 * CONFLICT (rid, rcpt) DO UPDATE … WHERE` the row is a dead master's claim, `RETURNING` the rows
 * it took), so two masters on one database never both take one (the key decides; no lock, no
 * read-then-write). The claim becomes the
 * scanner's queue id once the digest is queued, is dropped when the hand-off fails, and is
 * taken again after CLAIM_TIMEOUT_MS if its master died in between (delivery at least once).
 */
export function createDigestRepository(db: Kysely<MasterSchema>) {
  /** Which of these (rid, recipient) pairs were listed, are being listed, or were handled by the recipient. */
  async function taken(rids: readonly number[], claimsBefore: number): Promise<Set<string>> {
    const out = new Set<string>();
    await inChunks(rids, async (chunk) => {
      const sent = await db.selectFrom('digest_sent').select(['rid', 'rcpt', 'queue_id', 'sent_at']).where('rid', 'in', chunk).execute();
      for (const s of sent) if (!(s.queue_id.startsWith(CLAIM_PREFIX) && s.sent_at < claimsBefore)) out.add(key(s.rid, s.rcpt));
      const copies = await db.selectFrom('enduser_copies').select(['rid', 'rcpt']).where('rid', 'in', chunk).execute();
      for (const c of copies) out.add(key(c.rid, c.rcpt));
    });
    return out;
  }

  return {
    /**
     * Held messages not yet listed to their recipient, by recipient, oldest first; only the
     * given categories; at most `perRecipient` each (the rest wait for the next round). `at`:
     * the round's time (claims older than CLAIM_TIMEOUT_MS count as not listed).
     */
    async pending(since: number, categories: readonly Category[], perRecipient: number, at: number): Promise<Map<string, HeldForRecipient[]>> {
      const rows = (await db.selectFrom('quarantine as q').select(COLUMNS).where('q.status', '=', 'held').where('q.created_at', '>=', since).orderBy('q.created_at').orderBy('q.rid').execute()) as Row[];
      const held = rows.map((row) => ({ row, item: toItem(row) })).filter(({ item }) => categories.includes(categoryOf(item.reasons)));
      const done = await taken(held.map(({ row }) => row.rid), at - CLAIM_TIMEOUT_MS);
      const out = new Map<string, HeldForRecipient[]>();
      for (const { row, item } of held) {
        for (const rcpt of JSON.parse(row.rcpt_to) as string[]) {
          if (done.has(key(row.rid, rcpt))) continue;
          const list = out.get(rcpt) ?? [];
          if (list.length >= perRecipient) continue;
          list.push(item);
          out.set(rcpt, list);
        }
      }
      return out;
    },
    /**
     * Take these messages for a digest to `rcpt` handed to `nodeId`: the returned claim holds
     * those this call took (none when another master's round has them, or listed them).
     */
    async claim(items: readonly HeldForRecipient[], rcpt: string, at: number, nodeId: string): Promise<DigestClaim> {
      const token = `${CLAIM_PREFIX}${randomBytes(12).toString('hex')}`;
      const took = new Set<number>();
      await inChunks(items, async (chunk) => {
        const rows = await db.insertInto('digest_sent').values(chunk.map((i) => ({ rid: i.rid, rcpt, sent_at: at, node_id: nodeId, queue_id: token })))
          .onConflict((oc) => oc.columns(['rid', 'rcpt'])
            .doUpdateSet((eb) => ({ sent_at: eb.ref('excluded.sent_at'), node_id: eb.ref('excluded.node_id'), queue_id: eb.ref('excluded.queue_id') }))
            // Only a claim whose master died: a listed message (a scanner's queue id) or a live claim stays.
            .where('digest_sent.queue_id', 'like', `${CLAIM_PREFIX}%`).where('digest_sent.sent_at', '<', at - CLAIM_TIMEOUT_MS))
          .returning('rid').execute();
        for (const r of rows) took.add(r.rid);
      });
      return { rcpt, items: items.filter((i) => took.has(i.rid)), token };
    },
    /** The claimed messages are in a digest now queued on `nodeId` as `queueId`; false if the claim was lost (it had timed out and another round took it). */
    async markSent(claim: DigestClaim, at: number, nodeId: string, queueId: string): Promise<boolean> {
      let marked = 0;
      await inChunks(claim.items, async (chunk) => {
        const r = await db.updateTable('digest_sent').set({ sent_at: at, node_id: nodeId, queue_id: queueId })
          .where('rcpt', '=', claim.rcpt).where('rid', 'in', chunk.map((i) => i.rid)).where('queue_id', '=', claim.token).executeTakeFirst();
        marked += Number(r.numUpdatedRows);
      });
      return marked === claim.items.length;
    },
    /** The digest was not queued: its messages are listed by a later round. */
    async release(claim: DigestClaim): Promise<void> {
      await inChunks(claim.items, (chunk) => db.deleteFrom('digest_sent').where('rcpt', '=', claim.rcpt).where('rid', 'in', chunk.map((i) => i.rid)).where('queue_id', '=', claim.token).execute());
    },
    /** Forget what was sent before `before` (those messages are past the digests' age limit). */
    prune: async (before: number): Promise<number> => Number((await db.deleteFrom('digest_sent').where('sent_at', '<', before).executeTakeFirst()).numDeletedRows),
    /** A recipient's own held messages, newest first, of the given categories. */
    async heldFor(rcpt: string, since: number, categories: readonly Category[], limit: number): Promise<HeldForRecipient[]> {
      const rows = (await db.selectFrom('quarantine_rcpts as r').innerJoin('quarantine as q', 'q.rid', 'r.rid').select(COLUMNS)
        .where('r.rcpt', '=', rcpt).where('r.created_at', '>=', since).where('q.status', '=', 'held')
        .where(({ not, exists, selectFrom }) => not(exists(selectFrom('enduser_copies as c').select('c.rid').whereRef('c.rid', '=', 'q.rid').whereRef('c.rcpt', '=', 'r.rcpt'))))
        .orderBy('r.created_at', 'desc').limit(limit).execute()) as Row[];
      return rows.map(toItem).filter((i) => categories.includes(categoryOf(i.reasons)));
    },
    /** What this recipient did with their copy of a message held for several, if anything. */
    copyAction: async (rid: number, rcpt: string): Promise<'release' | 'delete' | undefined> =>
      (await db.selectFrom('enduser_copies').select('action').where('rid', '=', rid).where('rcpt', '=', rcpt).executeTakeFirst())?.action,
    /** Record it; false if something was recorded already (the first action stands). */
    recordCopy: async (rid: number, rcpt: string, action: 'release' | 'delete', at: number, queueId: string | null): Promise<boolean> =>
      (await db.insertInto('enduser_copies').values({ rid, rcpt, action, at, queue_id: queueId }).onConflict((oc) => oc.columns(['rid', 'rcpt']).doNothing()).returning('rid').execute()).length > 0,
    /** One entry of the index with its recipients, whatever its status. */
    async get(nodeId: string, id: string): Promise<(HeldForRecipient & { readonly rcptTo: readonly string[] }) | undefined> {
      const row = (await db.selectFrom('quarantine as q').select(COLUMNS).where('q.node_id', '=', nodeId).where('q.id', '=', id).executeTakeFirst()) as Row | undefined;
      return row ? { ...toItem(row), rcptTo: JSON.parse(row.rcpt_to) as string[] } : undefined;
    },
  };
}
export type DigestRepository = ReturnType<typeof createDigestRepository>;
