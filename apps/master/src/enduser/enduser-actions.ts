import type { Logger } from 'pino';
import { NodeOfflineError, NodeRequestError, type ClusterControl } from '../app-deps.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { markQuarantine } from '../data/quarantine-repository.ts';
import { categoryOf } from '../digests/categories.ts';
import type { DigestRepository, HeldForRecipient } from '../digests/digest-repository.ts';
import type { DigestSettings } from '../digests/settings-schema.ts';
import { changeRecipientList, type ListChangeDeps } from '../recipient-lists/change-recipient-list.ts';
import type { MessageAction } from './pages.ts';
import type { EnduserLearning } from './enduser-learning.ts';

export interface EnduserActionDeps {
  readonly repo: DigestRepository;
  readonly cluster: ClusterControl;
  /** Release one recipient's copy of a message held for several (hub.releaseForRecipients). */
  readonly releaseCopy: (nodeId: string, messageId: string, rcptTo: readonly string[]) => Promise<{ queueId: string }>;
  readonly auditLog: AuditLog;
  /** What an end user's list change needs (recipient-lists/): the database, the push, the audit log. */
  readonly publish: ListChangeDeps;
  readonly log: Logger;
  readonly now: () => number;
  /** A release also teaches every scanner "not spam" (absent: it does not). */
  readonly learning?: EnduserLearning | undefined;
}

/** What the recipient is told a release also does. */
const NOT_SPAM = ' It was marked as not spam, so the filter learns from it.';

export type ActionOutcome =
  | { readonly kind: 'done'; readonly text: string }
  | { readonly kind: 'already'; readonly text: string }
  | { readonly kind: 'refused'; readonly status: number; readonly text: string };

/**
 * Whether `recipient` may act on this message at all: it must be one of its recipients, and
 * its category must be one the admin lets end users handle.
 */
export function mayAct(settings: DigestSettings, m: (HeldForRecipient & { rcptTo: readonly string[] }) | undefined, recipient: string): ActionOutcome | undefined {
  if (!m || !m.rcptTo.includes(recipient)) return { kind: 'refused', status: 404, text: 'This message is not in your quarantine.' };
  if (!settings.categories.includes(categoryOf(m.reasons))) return { kind: 'refused', status: 403, text: 'This message can only be released by an administrator.' };
  return undefined;
}

/**
 * Release, release-and-allow, or delete, for the recipient, through the same cluster request
 * as the console's quarantine actions. Idempotent: a second click answers "already".
 */
export async function performAction(deps: EnduserActionDeps, settings: DigestSettings, recipient: string, via: string, ip: string, nodeId: string, messageId: string, action: MessageAction): Promise<ActionOutcome> {
  const m = await deps.repo.get(nodeId, messageId);
  const refused = mayAct(settings, m, recipient);
  if (refused || !m) return refused ?? { kind: 'refused', status: 404, text: 'This message is not in your quarantine.' };
  const actor = { username: `enduser:${recipient}`, via };
  const target = `${nodeId}/${messageId}`;
  const allowSender = async () => {
    if (action !== 'allow' || m.mailFrom === '') return '';
    await changeRecipientList(deps.publish, recipient, { op: 'add', list: 'allow', pattern: m.mailFrom }, ip);
    return ` Mail from ${m.mailFrom} to you is accepted from now on.`;
  };
  const want = action === 'delete' ? 'deleted' : 'released';
  const copy = m.rcptTo.length > 1 ? await deps.repo.copyAction(m.rid, recipient) : undefined;
  if (copy === 'release') return { kind: 'already', text: want === 'deleted' ? 'This message was already released to you.' : `This message was already released.${await allowSender()}` };
  if (copy === 'delete') return { kind: 'already', text: 'This message was already removed from your quarantine.' };
  if (m.status === 'deleted') return { kind: 'already', text: 'This message was already deleted.' };
  if (m.status === 'released') {
    if (want === 'deleted') return { kind: 'already', text: 'This message was already released; there is nothing to delete.' };
    return { kind: 'already', text: `This message was already released.${await allowSender()}` };
  }
  // Held for several recipients: this one's copy only; the message stays held for the others.
  if (m.rcptTo.length > 1) return actOnCopy(deps, m, recipient, actor, ip, action, allowSender);
  // Released means "not spam": the message is read before it leaves the quarantine.
  const lesson = action !== 'delete' ? await deps.learning?.beforeRelease(nodeId, messageId) : undefined;
  try {
    await deps.cluster.quarantineAction(nodeId, messageId, action === 'delete' ? 'delete' : 'release');
  } catch (err) {
    if (err instanceof NodeOfflineError) return { kind: 'refused', status: 503, text: 'The server that holds this message is offline right now; please try again later.' };
    if (err instanceof NodeRequestError && err.code === 'MOAT_ERR_CONFLICT') {
      // Released on the node, not yet in the index: the index catches up now.
      await markQuarantine(deps.publish.db, nodeId, messageId, 'released', deps.now());
      return { kind: 'already', text: `This message was already released.${await allowSender()}` };
    }
    if (err instanceof NodeRequestError && err.code === 'MOAT_ERR_NOT_FOUND') return { kind: 'already', text: 'This message is no longer in quarantine.' };
    deps.log.warn({ event: 'ENDUSER_ACTION_FAILED', queueId: messageId, nodeId, code: (err as { code?: string }).code, error: (err as Error).message }, 'end-user quarantine action failed');
    return { kind: 'refused', status: 502, text: 'The action could not be completed; please try again later.' };
  }
  await markQuarantine(deps.publish.db, nodeId, messageId, want, deps.now());
  await deps.auditLog.audit(actor, ip, `quarantine.${action === 'delete' ? 'delete' : 'release'}`, target, { subject: m.subject.slice(0, 200), from: m.mailFrom, by: 'recipient' });
  deps.log.info({ event: 'ENDUSER_QUARANTINE_ACTION', queueId: messageId, nodeId, action }, `quarantined message ${want} by its recipient`);
  await learnReleased(deps, recipient, ip, nodeId, messageId, lesson);
  return { kind: 'done', text: action === 'delete' ? 'The message was deleted.' : `The message was released and is on its way to your mailbox.${lesson ? NOT_SPAM : ''}${await allowSender()}` };
}

/**
 * A message held for several recipients is not this recipient's alone. Release: a copy is
 * queued for them only (`quarantine.release-rcpt`). Delete: it leaves their quarantine (page
 * and digests); the file stays held for the others (an operator, or retention, removes it).
 */
async function actOnCopy(
  deps: EnduserActionDeps, m: HeldForRecipient, recipient: string, actor: { username: string; via: string }, ip: string, action: MessageAction, allowSender: () => Promise<string>,
): Promise<ActionOutcome> {
  const target = `${m.nodeId}/${m.id}`;
  if (action === 'delete') {
    await deps.repo.recordCopy(m.rid, recipient, 'delete', deps.now(), null);
    await deps.auditLog.audit(actor, ip, 'quarantine.delete', target, { subject: m.subject.slice(0, 200), from: m.mailFrom, by: 'recipient', copy: recipient });
    return { kind: 'done', text: 'The message was removed from your quarantine.' };
  }
  const lesson = await deps.learning?.beforeRelease(m.nodeId, m.id);
  let queueId: string;
  try {
    ({ queueId } = await deps.releaseCopy(m.nodeId, m.id, [recipient]));
  } catch (err) {
    if (err instanceof NodeOfflineError) return { kind: 'refused', status: 503, text: 'The server that holds this message is offline right now; please try again later.' };
    if (err instanceof NodeRequestError && (err.code === 'MOAT_ERR_CONFLICT' || err.code === 'MOAT_ERR_NOT_FOUND')) return { kind: 'already', text: 'This message is no longer in quarantine.' };
    deps.log.warn({ event: 'ENDUSER_ACTION_FAILED', queueId: m.id, nodeId: m.nodeId, code: (err as { code?: string }).code, error: (err as Error).message }, 'end-user quarantine action failed');
    return { kind: 'refused', status: 502, text: 'The action could not be completed; please try again later.' };
  }
  await deps.repo.recordCopy(m.rid, recipient, 'release', deps.now(), queueId);
  await deps.auditLog.audit(actor, ip, 'quarantine.release', target, { subject: m.subject.slice(0, 200), from: m.mailFrom, by: 'recipient', copy: recipient, copyQueueId: queueId });
  deps.log.info({ event: 'ENDUSER_QUARANTINE_ACTION', queueId: m.id, nodeId: m.nodeId, action, copy: queueId }, 'a copy of a quarantined message released to one of its recipients');
  await learnReleased(deps, recipient, ip, m.nodeId, m.id, lesson);
  return { kind: 'done', text: `The message was released and is on its way to your mailbox.${lesson ? NOT_SPAM : ''}${await allowSender()}` };
}

/** The "not spam" lesson of a release; the release is done whatever becomes of it (logged). */
async function learnReleased(deps: EnduserActionDeps, recipient: string, ip: string, nodeId: string, messageId: string, lesson: Parameters<EnduserLearning['released']>[4]): Promise<void> {
  if (!deps.learning || !lesson) return;
  try {
    await deps.learning.released(recipient, ip, nodeId, messageId, lesson);
  } catch (err) {
    deps.log.warn({ event: 'LEARN_SOURCE_FAILED', nodeId, queueId: messageId, error: (err as Error).message }, 'a released message could not be recorded as not spam');
  }
}
