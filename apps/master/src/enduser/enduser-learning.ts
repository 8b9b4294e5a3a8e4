import type { Logger } from 'pino';
import { sql, type Kysely, type SqlBool } from 'kysely';
import { NodeOfflineError, NodeRequestError, type ClusterControl } from '../app-deps.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { normalizeAddress } from '../data/addresses.ts';
import { inChunks } from '../data/in-chunks.ts';
import { containsPattern } from '../data/sql-like.ts';
import type { MasterSchema } from '../db/schema.ts';
import { readLearnMessage, teach, type LearnHub } from '../learn/learn-service.ts';
import type { LearnMessage } from '../learn/learn-store.ts';

/**
 * End users teach the cluster too (docs/detection.md, "Learning"; docs/digests.md): releasing
 * a held message says "not spam", and "Report spam" on a delivered message that has a retained
 * copy says "spam". Lessons are recorded as source `user`, actor `enduser:<address>`, audited
 * (`learn.ham`, `learn.spam`) and sent to every scanner like an admin's.
 */
export interface EnduserLearningDeps {
  readonly db: Kysely<MasterSchema>;
  readonly cluster: ClusterControl;
  /** The master's learn log; absent, end users' actions teach nothing (a test without a hub). */
  readonly learn?: LearnHub | undefined;
  readonly auditLog: AuditLog;
  readonly log: Logger;
  readonly now: () => number;
}

/**
 * A message the filter let through (deliver or tag) that reached the recipient and whose
 * retained copy is kept: what "Report spam" may teach. A quarantined message they released is
 * not one: releasing it said "not spam".
 */
export interface DeliveredForRecipient {
  readonly nodeId: string;
  readonly id: string;
  readonly receivedAt: number;
  readonly mailFrom: string;
  readonly subject: string;
  /** The recipient's own lesson already recorded for it (the latest from their reports), if any. */
  readonly reported: boolean;
}

/** How long "Report spam" waits for the scanners before it answers (the lesson is recorded either way). */
const REPORT_WAIT_MS = 5000;

/** The learn log's columns read here (the cluster area owns the table's type): a message's latest lesson. */
type LearnEventsSeen = { learn_events: { seq: number; class: string; origin_node: string; origin_message: string } };

/**
 * Delivered to `rcpt`: its address is an element of the message's `delivered` JSON array. One
 * query on both engines, without either's JSON functions: the JSON text contains the address
 * as a JSON string (`"bob@example.test"`, LIKE's wildcards escaped), a cheap test the exact one
 * (`isDeliveredTo`, on the parsed array) confirms; the LIKE alone could match inside another
 * element holding an escaped quote, and folds ASCII case on SQLite.
 */
function deliveredCondition(rcpt: string) {
  return sql<SqlBool>`m.delivered LIKE ${containsPattern(JSON.stringify(rcpt))} ESCAPE '\\'`;
}
const isDeliveredTo = (delivered: string, rcpt: string) => (JSON.parse(delivered) as string[]).includes(rcpt);

export function createEnduserLearning(deps: EnduserLearningDeps) {
  const { db } = deps;
  /** Messages the filter let through to `rcpt` whose retained copy is kept (`deliver` or `tag`). */
  const deliveredTo = (rcpt: string) => db.selectFrom('message_rcpts as r').innerJoin('messages as m', (j) => j.onRef('m.received_at', '=', 'r.received_at').onRef('m.rid', '=', 'r.rid'))
    .select(['m.node_id', 'm.id', 'm.received_at', 'm.mail_from', 'm.subject', 'm.delivered'])
    .where('r.rcpt', '=', rcpt).where('m.action', 'in', ['deliver', 'tag'])
    .where('m.retained_bytes', 'is not', null).where('m.retained_gone_at', 'is', null)
    .where(deliveredCondition(rcpt));
  // The learn log's latest lesson from each message (by anyone): what the page shows as "reported".
  const latestLessons = async (ids: readonly string[]): Promise<Map<string, string>> => {
    const out = new Map<string, string>();
    await inChunks(ids, async (chunk) => {
      const rows = await db.withTables<LearnEventsSeen>().selectFrom('learn_events').select(['origin_node', 'origin_message', 'class'])
        .where('origin_message', 'in', chunk).orderBy('seq').execute();
      for (const r of rows) out.set(`${r.origin_node}/${r.origin_message}`, r.class);
    });
    return out;
  };

  const actorOf = (recipient: string) => ({ username: `enduser:${recipient}`, via: 'enduser-session' });

  return {
    /** Whether end users' actions teach at all. */
    enabled: deps.learn !== undefined,

    /** The recipient's delivered mail with a retained copy, newest first. */
    async deliveredFor(recipient: string, since: number, limit: number): Promise<DeliveredForRecipient[]> {
      const rcpt = normalizeAddress(recipient);
      const rows = (await deliveredTo(rcpt).where('r.received_at', '>=', since).orderBy('r.received_at', 'desc').limit(limit).execute()).filter((r) => isDeliveredTo(r.delivered, rcpt));
      const lessons = await latestLessons([...new Set(rows.map((r) => r.id))]);
      return rows.map((r) => ({
        nodeId: r.node_id, id: r.id, receivedAt: r.received_at, mailFrom: r.mail_from, subject: r.subject, reported: lessons.get(`${r.node_id}/${r.id}`) === 'spam',
      }));
    },

    /** A held message's content before it is released, for the "not spam" lesson; a release never fails for want of it. */
    async beforeRelease(nodeId: string, messageId: string): Promise<LearnMessage | undefined> {
      if (!deps.learn) return undefined;
      try {
        return await readLearnMessage(await deps.cluster.fetchQuarantined(nodeId, messageId));
      } catch (err) {
        deps.log.warn({ event: 'LEARN_SOURCE_FAILED', nodeId, queueId: messageId, error: (err as Error).message }, 'the released message could not be read to learn from; released without a lesson');
        return undefined;
      }
    },

    /** After a recipient released it: every scanner learns it is not spam (not waited for). */
    async released(recipient: string, ip: string, nodeId: string, messageId: string, message: LearnMessage | undefined): Promise<void> {
      if (!deps.learn || !message) return;
      const t = await teach(deps.learn, { message, class: 'ham', source: 'user', actor: `enduser:${recipient}`, origin: { nodeId, messageId } }, deps.now(), 0, deps.log);
      await deps.auditLog.audit(actorOf(recipient), ip, 'learn.ham', `${nodeId}/${messageId}`, { seq: t.event.seq, digest: t.event.digest, created: t.created, ...(t.event.unlearn ? { unlearn: t.event.unlearn } : {}), by: 'release' });
    },

    /**
     * "Report spam" on a delivered message addressed to this recipient whose retained copy is
     * kept: the copy is read from its node and every scanner learns it is spam.
     */
    async report(recipient: string, ip: string, nodeId: string, messageId: string): Promise<{ status: number; title: string; text: string }> {
      if (!deps.learn) return { status: 404, title: 'Not possible', text: 'Reporting spam is not available here.' };
      const rcpt = normalizeAddress(recipient);
      const m = await deliveredTo(rcpt).where('m.node_id', '=', nodeId).where('m.id', '=', messageId).executeTakeFirst();
      if (!m || !isDeliveredTo(m.delivered, rcpt)) return { status: 404, title: 'Not possible', text: 'This message was not delivered to you, or its copy is no longer kept.' };
      let message: LearnMessage;
      try {
        message = await readLearnMessage(await deps.cluster.fetchRetained(nodeId, messageId));
      } catch (err) {
        if (err instanceof NodeOfflineError) return { status: 503, title: 'Not possible', text: 'The server that keeps this message is offline right now; please try again later.' };
        if (err instanceof NodeRequestError && (err.code === 'MOAT_ERR_GONE' || err.code === 'MOAT_ERR_NOT_FOUND')) return { status: 410, title: 'Not possible', text: 'The copy of this message is no longer kept.' };
        deps.log.warn({ event: 'ENDUSER_ACTION_FAILED', queueId: messageId, nodeId, code: (err as { code?: string }).code, error: (err as Error).message }, 'end-user spam report failed');
        return { status: 502, title: 'Not possible', text: 'The report could not be completed; please try again later.' };
      }
      const t = await teach(deps.learn, { message, class: 'spam', source: 'user', actor: `enduser:${recipient}`, origin: { nodeId, messageId } }, deps.now(), REPORT_WAIT_MS, deps.log);
      await deps.auditLog.audit(actorOf(recipient), ip, 'learn.spam', `${nodeId}/${messageId}`, { seq: t.event.seq, digest: t.event.digest, created: t.created, ...(t.event.unlearn ? { unlearn: t.event.unlearn } : {}), subject: m.subject.slice(0, 200), from: m.mail_from, by: 'recipient' });
      if (!t.created) return { status: 200, title: 'Already reported', text: 'This message was already reported as spam. Thank you.' };
      return {
        status: 200,
        title: 'Reported',
        text: t.outcome.complete ? 'Thank you: the filter has learned that this message is spam, and mail like it will be caught.' : 'Thank you: the filter will learn that this message is spam in a moment.',
      };
    },
  };
}
export type EnduserLearning = ReturnType<typeof createEnduserLearning>;
