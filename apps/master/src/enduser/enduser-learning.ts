import type { Logger } from 'pino';
import type { Db } from '@moat/storage';
import { NodeOfflineError, NodeRequestError, type ClusterControl } from '../app-deps.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { normalizeAddress } from '../data/addresses.ts';
import { readLearnMessage, teach, type LearnHub } from '../learn/learn-service.ts';
import type { LearnMessage } from '../learn/learn-store.ts';

/**
 * End users teach the cluster too (docs/detection.md, "Learning"; docs/digests.md): releasing
 * a held message says "not spam", and "Report spam" on a delivered message that has a retained
 * copy says "spam". Lessons are recorded as source `user`, actor `enduser:<address>`, audited
 * (`learn.ham`, `learn.spam`) and sent to every scanner like an admin's.
 */
export interface EnduserLearningDeps {
  readonly db: Db;
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

export function createEnduserLearning(deps: EnduserLearningDeps) {
  const delivered = deps.db.prepare<[string, number, string, number], { node_id: string; id: string; received_at: number; mail_from: string; subject: string }>(
    `SELECT m.node_id, m.id, m.received_at, m.mail_from, m.subject
       FROM message_rcpts r JOIN messages m ON m.rid = r.rid
      WHERE r.rcpt = ? AND r.received_at >= ? AND m.action IN ('deliver', 'tag')
        AND m.retained_bytes IS NOT NULL AND m.retained_gone_at IS NULL
        AND EXISTS (SELECT 1 FROM json_each(m.delivered) WHERE value = ?)
      ORDER BY r.received_at DESC LIMIT ?`,
  );
  const one = deps.db.prepare<[string, string, string, string], { mail_from: string; subject: string }>(
    `SELECT m.mail_from, m.subject FROM messages m JOIN message_rcpts r ON r.rid = m.rid AND r.rcpt = ?
      WHERE m.node_id = ? AND m.id = ? AND m.action IN ('deliver', 'tag') AND m.retained_bytes IS NOT NULL AND m.retained_gone_at IS NULL
        AND EXISTS (SELECT 1 FROM json_each(m.delivered) WHERE value = ?)`,
  );
  // The learn log's latest lesson from this message (by anyone): what the page shows as "reported".
  const latest = deps.db.prepare<[string, string], { class: string }>('SELECT class FROM learn_events WHERE origin_node = ? AND origin_message = ? ORDER BY seq DESC LIMIT 1');

  const actorOf = (recipient: string) => ({ username: `enduser:${recipient}`, via: 'enduser-session' });

  return {
    /** Whether end users' actions teach at all. */
    enabled: deps.learn !== undefined,

    /** The recipient's delivered mail with a retained copy, newest first. */
    deliveredFor(recipient: string, since: number, limit: number): DeliveredForRecipient[] {
      const rcpt = normalizeAddress(recipient);
      return delivered.all(rcpt, since, rcpt, limit).map((r) => ({
        nodeId: r.node_id, id: r.id, receivedAt: r.received_at, mailFrom: r.mail_from, subject: r.subject, reported: latest.get(r.node_id, r.id)?.class === 'spam',
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
      const m = one.get(rcpt, nodeId, messageId, rcpt);
      if (!m) return { status: 404, title: 'Not possible', text: 'This message was not delivered to you, or its copy is no longer kept.' };
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
