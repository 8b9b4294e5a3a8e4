import { join } from 'node:path';
import type { Logger } from 'pino';
import { rename, rm } from 'node:fs/promises';
import type { DirSyncer } from '@moat/storage';
import { evaluateMessage, strongerAction, type CompiledRules, type Verdict } from '@moat/rules';
import type { MessageStore, MessageRecord, QueueEntry } from '../store/message-store.ts';
import { analyzeMessage, UnanalysableMessage, type AnalyzeLimits, type ContentFacts } from './analyze.ts';
import { deliveryHeaders } from './delivery-headers.ts';
import type { Analyzer, AnalyzerInput } from '../analyzers/analyzer.ts';
import { runAnalyzers, type AnalyzerOutcome } from '../analyzers/run-analyzers.ts';

export interface AcceptDeps {
  readonly messages: MessageStore;
  readonly dirs: { readonly queue: string; readonly quarantine: string };
  /** fsyncs of the target folders, coalesced across concurrent messages. */
  readonly dirSync: { readonly queue: DirSyncer; readonly quarantine: DirSyncer };
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

  switch (verdict.action) {
    case 'reject':
      await deps.messages.recordRejected(record);
      // No fsync: a spool file that survives a crash is swept at the next start.
      await rm(env.spoolFile, { force: true });
      return { ok: false, code: 550, enhanced: '5.7.1', text: verdict.rejectText ?? 'Message refused by policy' };
    case 'quarantine': {
      const file = `${env.id}.eml`;
      await rename(env.spoolFile, join(deps.dirs.quarantine, file));
      await deps.dirSync.quarantine.sync();
      await deps.messages.recordQuarantined(record, file);
      return { ok: true, text: `2.0.0 Ok: queued as ${env.id}` };
    }
    case 'deliver':
    case 'tag': {
      const file = `${env.id}.eml`;
      await rename(env.spoolFile, join(deps.dirs.queue, file));
      await deps.dirSync.queue.sync();
      const entry: QueueEntry = {
        id: env.id,
        messageId: env.id,
        file,
        mailFrom: env.mailFrom,
        rcptTo: env.rcptTo,
        // Authentication-Results and the scan status above our Received (RFC 8601 section 5).
        prependHeaders: [...found.headers, ...deliveryHeaders(env, verdict, deps)],
        subjectPrefix: verdict.action === 'tag' ? rules.rules.tagging.subjectPrefix : '',
        createdAt: env.receivedAt,
        nextAttemptAt: env.receivedAt,
        attempts: 0,
        lastError: null,
        kind: 'message',
      };
      await deps.messages.recordQueued(record, entry);
      deps.onQueued(entry);
      return { ok: true, text: `2.0.0 Ok: queued as ${env.id}` };
    }
  }
}

/**
 * The fallback for a message that could not be analysed (structure limits or time-out) or
 * scanned (past clamd's stream limit): at least quarantine, so that an admin decides; a reject
 * found in what was analysed still rejects.
 */
function hold(v: Verdict, why: { rule: string; detail: string }): Verdict {
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
