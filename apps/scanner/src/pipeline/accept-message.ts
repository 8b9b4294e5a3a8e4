import { join } from 'node:path';
import type { Logger } from 'pino';
import { link, rename, rm } from 'node:fs/promises';
import type { DirSyncer } from '@moat/storage';
import { evaluateMessage, strongerAction, type CompiledRules, type Verdict } from '@moat/rules';
import type { MessageStore, MessageRecord, QueueEntry } from '../store/message-store.ts';
import { analyzeMessage, UnanalysableMessage, type AnalyzeLimits, type ContentFacts } from './analyze.ts';
import { deliveryHeaders } from './delivery-headers.ts';
import type { Analyzer, AnalyzerInput } from '../analyzers/analyzer.ts';
import { runAnalyzers, type AnalyzerOutcome } from '../analyzers/run-analyzers.ts';
import type { Removed, RetainedInput, RetentionStore } from '../retention/retention-store.ts';
import { shouldRetain } from '../retention/retention-policy.ts';
import { logRemoved } from '../retention/retention-job.ts';

export interface AcceptDeps {
  readonly messages: MessageStore;
  readonly dirs: { readonly queue: string; readonly quarantine: string; readonly retained: string };
  /** fsyncs of the target folders, coalesced across concurrent messages. */
  readonly dirSync: { readonly queue: DirSyncer; readonly quarantine: DirSyncer; readonly retained: DirSyncer };
  /** Unlinks the files of older copies dropped to stay within the retention budget. */
  readonly retention: Pick<RetentionStore, 'unlinkAll'>;
  /** The node's logger (the per-message one names this message; evictions name others). */
  readonly log: Logger;
  readonly hostname: string;
  readonly nodeName: string;
  readonly now: () => number;
  /** Hands a message just queued (its row committed) to the relay worker. */
  readonly onQueued: (entry: QueueEntry) => void;
  /** Virus scan, sender authentication, DNSBL…: run after DATA beside the content analysis. None: the bare pipeline. */
  readonly analyzers?: readonly Analyzer[];
  /** Bounds of the content analysis (the config's `analysis` section); default: DEFAULT_ANALYZE_LIMITS. */
  readonly analyzeLimits?: AnalyzeLimits;
}

const NO_ANALYZERS: AnalyzerOutcome = { extraScores: [], headers: [], holds: [] };

/** A received message: what every analyzer sees, plus what only the pipeline needs. */
export interface Envelope extends AnalyzerInput {
  readonly id: string;
  readonly receivedAt: number;
  readonly tls: boolean;
}

export type Reply = { readonly ok: true; readonly text: string } | { readonly ok: false; readonly code: number; readonly enhanced: string; readonly text: string };

/**
 * After DATA: analyze the spooled message, decide with the rules snapshot the transaction
 * started with, and make the decision durable (the spool file, fsync'd at the end of DATA, is
 * renamed into its folder and the folder fsync'd; then the database rows and outbox event are
 * committed) before the reply is chosen. The caller answers 250 only on ok.
 */
export async function acceptMessage(deps: AcceptDeps, env: Envelope, rules: CompiledRules, log: Logger): Promise<Reply> {
  let content: ContentFacts;
  let unanalysable: UnanalysableMessage | undefined;
  const analyzers = deps.analyzers ?? [];
  const analyzing = analyzers.length > 0 ? runAnalyzers(analyzers, env, log) : Promise.resolve(NO_ANALYZERS);
  try {
    content = await analyzeMessage(env.spoolFile, deps.analyzeLimits);
  } catch (err) {
    // Any other error is local (the spool file cannot be read): 451, and the client retries.
    if (!(err instanceof UnanalysableMessage)) {
      await analyzing; // never rejects; the spool file is removed by the caller once nobody reads it
      throw err;
    }
    unanalysable = err;
    content = err.partial;
    log.warn({ event: 'ANALYSIS_FAILED', reason: err.reason, detail: err.message }, 'message could not be analysed, holding it');
  }
  const found = await analyzing;
  if (found.tempFail) {
    // The stated fallback of an engine that is down: the message is not accepted, the client retries.
    log.warn({ event: 'MESSAGE_TEMPFAIL', analyzer: found.tempFail.analyzer, detail: found.tempFail.detail }, 'analyzer unavailable, answering 451');
    await rm(env.spoolFile, { force: true });
    return { ok: false, code: 451, enhanced: '4.3.0', text: `Message could not be checked (${found.tempFail.analyzer} unavailable), try again later` };
  }
  const evaluated = evaluateMessage(rules, {
    clientIp: env.clientIp,
    mailFrom: env.mailFrom,
    rcptTo: env.rcptTo,
    sizeBytes: env.size,
    headers: content.headers,
    subject: content.subject,
    bodyText: content.bodyText,
    attachments: content.attachments,
    virus: found.virus,
    auth: found.auth,
    extraScores: found.extraScores.length > 0 ? found.extraScores : undefined,
  });
  const holds = [...(unanalysable ? [{ rule: unanalysable.reason, detail: unanalysable.message }] : []), ...found.holds];
  const verdict = holds.reduce(hold, evaluated);
  const record: MessageRecord = {
    id: env.id,
    receivedAt: env.receivedAt,
    clientIp: env.clientIp,
    helo: env.helo,
    mailFrom: env.mailFrom,
    rcptTo: env.rcptTo,
    subject: content.subject.slice(0, 998),
    messageId: content.messageId.slice(0, 998),
    size: env.size,
    action: verdict.action,
    score: verdict.score,
    reasons: verdict.reasons,
    rulesVersion: verdict.rulesVersion,
    status: statusOf(verdict),
  };
  logVerdict(log, verdict, env);
  // Authentication-Results and the scan status above our Received (RFC 8601 section 5). Kept
  // with a retained copy too (even a quarantined one), so a re-delivery carries the same trace.
  const prependHeaders = [...found.headers, ...deliveryHeaders(env, verdict, deps)];
  const subjectPrefix = verdict.action === 'tag' ? rules.rules.tagging.subjectPrefix : '';
  const retainedInput = (file: string): RetainedInput => ({ file, size: env.size, prependHeaders, subjectPrefix, maxBytes: rules.rules.retention.maxBytes });

  switch (verdict.action) {
    case 'reject':
      await deps.messages.recordRejected(record);
      // No fsync: a spool file that survives a crash is swept at the next start.
      await rm(env.spoolFile, { force: true });
      return { ok: false, code: 550, enhanced: '5.7.1', text: verdict.rejectText ?? 'Message refused by policy' };
    case 'quarantine': {
      const file = `${env.id}.eml`;
      const keep = await placeDurably(deps, env.spoolFile, 'quarantine', file, shouldRetain(rules.rules.retention, verdict.action, env.size), log);
      const removed = await deps.messages.recordQuarantined(record, file, keep ? retainedInput(file) : undefined);
      dropEvicted(deps, removed);
      return { ok: true, text: `2.0.0 Ok: queued as ${env.id}` };
    }
    case 'deliver':
    case 'tag': {
      const file = `${env.id}.eml`;
      const keep = await placeDurably(deps, env.spoolFile, 'queue', file, shouldRetain(rules.rules.retention, verdict.action, env.size), log);
      const entry: QueueEntry = {
        id: env.id,
        messageId: env.id,
        file,
        mailFrom: env.mailFrom,
        rcptTo: env.rcptTo,
        prependHeaders,
        subjectPrefix,
        createdAt: env.receivedAt,
        nextAttemptAt: env.receivedAt,
        attempts: 0,
        lastError: null,
        kind: 'message',
      };
      const removed = await deps.messages.recordQueued(record, entry, keep ? retainedInput(file) : undefined);
      deps.onQueued(entry);
      dropEvicted(deps, removed);
      return { ok: true, text: `2.0.0 Ok: queued as ${env.id}` };
    }
  }
}

/**
 * Move the spool file into its folder (unless it was received there) and, when a copy is kept,
 * hard-link it into retained/ (the same bytes: what arrived, before any header is added) in the
 * same step; then fsync both folders (concurrently, each coalesced across messages) before the
 * transaction commits.
 */
async function placeDurably(deps: AcceptDeps, spoolFile: string, folder: 'queue' | 'quarantine', file: string, keep: boolean, log: Logger): Promise<boolean> {
  const target = join(deps.dirs[folder], file);
  if (target !== spoolFile) await rename(spoolFile, target);
  if (keep) {
    try {
      await link(target, join(deps.dirs.retained, file));
    } catch (err) {
      // Keeping a copy must never cost a message: without the link it is accepted, not retained.
      log.error({ event: 'RETENTION_ERROR', err }, 'could not keep a copy of the message; accepting it without one');
      keep = false;
    }
  }
  await Promise.all([deps.dirSync[folder].sync(), keep ? deps.dirSync.retained.sync() : undefined]);
  return keep;
}

/**
 * Older copies dropped for the budget in the accepting transaction: their files are unlinked
 * after the commit, without holding the reply (a lost unlink is swept at the next start).
 */
function dropEvicted(deps: AcceptDeps, removed: Removed | undefined): void {
  if (!removed || removed.copies.length === 0) return;
  logRemoved(deps.log, removed);
  deps.retention.unlinkAll(removed).catch((err: unknown) => deps.log.error({ event: 'RETENTION_ERROR', err }, 'could not remove an evicted retained copy'));
}

/**
 * The fallback for a message that could not be analysed (structure limits or time-out) or
 * scanned (past clamd's stream limit): at least quarantine, so that an admin decides; a reject
 * found in what was analysed still rejects.
 */
export function hold(v: Verdict, why: { rule: string; detail: string }): Verdict {
  const action = strongerAction(v.action, 'quarantine');
  return {
    ...v,
    action,
    reasons: [...v.reasons, { kind: 'analyzer', rule: why.rule, match: why.detail.slice(0, 200), action: 'quarantine' }],
    rejectText: action === 'reject' ? v.rejectText : undefined,
  };
}

function statusOf(v: Verdict): string {
  return v.action === 'reject' ? 'rejected' : v.action === 'quarantine' ? 'quarantined' : 'queued';
}

function logVerdict(log: Logger, v: Verdict, env: Envelope): void {
  log.info(
    {
      event: 'MESSAGE_VERDICT',
      action: v.action,
      score: v.score,
      allowed: v.allowed,
      reasons: v.reasons.map((r) => `${r.kind}:${r.rule}`),
      rulesVersion: v.rulesVersion,
      size: env.size,
      rcpt: env.rcptTo.length,
    },
    `verdict ${v.action}`,
  );
}
