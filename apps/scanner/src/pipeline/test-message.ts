import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { ConfigError } from '@moat/config';
import { checkClient, checkRecipient, checkSender, compileRules, DETECTION_MODEL, evaluateMessage, validateRules, withOwnLists, type CompiledRules, type EnvelopeDecision, type OwnListsLookup } from '@moat/rules';
import type { MessageTest, MessageTestAnswer } from '@moat/protocol';
import { analyzeMessage, UnanalysableMessage, type AnalyzeLimits, type ContentFacts } from './analyze.ts';
import { hold } from './accept-message.ts';
import type { Analyzer } from '../analyzers/analyzer.ts';
import { runAnalyzers } from '../analyzers/run-analyzers.ts';

export interface MessageTestDeps {
  readonly rules: () => CompiledRules;
  /** The end users' own lists in force (protocol 8): a draft of the rules is tested with them too, as the rules in force are. */
  readonly endUserLists?: () => OwnListsLookup;
  readonly analyzers: readonly Analyzer[];
  readonly analyzeLimits: AnalyzeLimits;
  /** A scratch folder swept at every start (the spool): the message is written there while the engines read it, then removed. */
  readonly scratchDir: string;
  readonly log: Logger;
}

/** The request cannot be run as asked (a draft that does not validate): answered as MOAT_ERR_VALIDATION. */
export class MessageTestRefused extends Error {
  override readonly name = 'MessageTestRefused';
}

type Stage = MessageTestAnswer['envelope'][number];

/**
 * "What would happen to this message?": the envelope checks and the verdict acceptMessage would
 * reach, from the same analysis, analyzers and evaluateMessage, under the rules in force or a
 * draft. A dry run: no row, no outbox event, no queue, quarantine or retained file, no
 * MESSAGE_VERDICT log line and no learning (the engines only scan; their auto-learning is off).
 * Greylisting and recipient verification are left out: each would record a triplet or probe a
 * server; the master's "test this address" covers verification.
 */
export async function testMessage(deps: MessageTestDeps, req: Pick<MessageTest, 'envelope' | 'data' | 'rules'>): Promise<MessageTestAnswer> {
  const rules = req.rules === undefined ? deps.rules() : withDraftLists(draft(req.rules), deps.endUserLists);
  const env = req.envelope;
  const bytes = Buffer.from(req.data, 'base64');
  const stages: Stage[] = [stage('connect', env.clientIp, checkClient(rules, env.clientIp))];
  if (stages[0]!.ok) stages.push(stage('mail', env.mailFrom === '' ? '<>' : env.mailFrom, checkSender(rules, env.clientIp, env.mailFrom)));
  if (stages.every((s) => s.ok)) for (const rcpt of env.rcptTo) stages.push(stage('rcpt', rcpt, checkRecipient(rules, env.clientIp, env.mailFrom, rcpt)));
  const maxBytes = rules.rules.limits.maxMessageBytes;
  const rcptTo = env.rcptTo.filter((r) => stages.some((s) => s.stage === 'rcpt' && s.subject === r && s.ok));
  const tooBig = bytes.length > maxBytes;
  if (rcptTo.length > 0 && tooBig) {
    stages.push({ stage: 'data', subject: `${bytes.length} bytes`, ok: false, allowed: false, reply: `552 5.3.4 Message size exceeds the limit of ${maxBytes} bytes`, reason: { kind: 'size', rule: 'limits.maxMessageBytes', match: `${bytes.length} > ${maxBytes}`, action: 'reject' } });
  }
  const refused = stages.find((s) => !s.ok && (s.stage !== 'rcpt' || rcptTo.length === 0));
  const refusedAt = refused?.stage ?? null;

  const file = join(deps.scratchDir, `test-${randomBytes(8).toString('hex')}.eml`);
  const log = deps.log.child({ test: true });
  try {
    // Judged even when the envelope would refuse it, so the admin sees what the content would get too.
    await writeFile(file, bytes, { mode: 0o600 });
    const input = { clientIp: env.clientIp, helo: env.helo, mailFrom: env.mailFrom, rcptTo: rcptTo.length > 0 ? rcptTo : env.rcptTo, spoolFile: file, size: bytes.length };
    const analyzing = runAnalyzers(deps.analyzers, input, log);
    let content: ContentFacts;
    let unanalysable: UnanalysableMessage | undefined;
    try {
      content = await analyzeMessage(file, deps.analyzeLimits);
    } catch (err) {
      if (!(err instanceof UnanalysableMessage)) {
        await analyzing;
        throw err;
      }
      unanalysable = err;
      content = err.partial;
    }
    const found = await analyzing;
    const evaluated = evaluateMessage(rules, {
      clientIp: env.clientIp, mailFrom: env.mailFrom, rcptTo: input.rcptTo, sizeBytes: bytes.length,
      headers: content.headers, subject: content.subject, bodyText: content.bodyText, attachments: content.attachments,
      virus: found.virus, auth: found.auth, extraScores: found.extraScores.length > 0 ? found.extraScores : undefined,
    });
    const holds = [...(unanalysable ? [{ rule: unanalysable.reason, detail: unanalysable.message }] : []), ...found.holds];
    const v = holds.reduce(hold, evaluated);
    const reply = found.tempFail
      ? `451 4.3.0 Message could not be checked (${found.tempFail.analyzer} unavailable), try again later`
      : v.action === 'reject' ? `550 5.7.1 ${v.rejectText ?? 'Message refused by policy'}` : v.action === 'quarantine' ? '250 2.0.0 Ok (held in the quarantine)' : '250 2.0.0 Ok (queued for delivery)';
    const { tag, quarantine, reject } = rules.rules.scoring;
    return {
      rules: req.rules === undefined ? rules.version : 'draft',
      modelVersion: DETECTION_MODEL.version,
      envelope: stages,
      refusedAt,
      verdict: { action: v.action, score: v.score, allowed: v.allowed, reasons: v.reasons.map((r) => ({ ...r })), reply, thresholds: { tag, quarantine, reject } },
      analyzers: deps.analyzers.map((a) => a.name),
      ...(found.tempFail ? { tempFail: { ...found.tempFail } } : {}),
      message: { size: bytes.length, subject: content.subject.slice(0, 998), attachments: content.attachments.length },
    };
  } finally {
    await rm(file, { force: true });
  }
}

function withDraftLists(rules: CompiledRules, endUserLists: (() => OwnListsLookup) | undefined): CompiledRules {
  return endUserLists ? withOwnLists(rules, endUserLists()) : rules;
}

function draft(document: unknown): CompiledRules {
  try {
    // The version a draft says never matters: it is judged as "draft".
    const doc = typeof document === 'object' && document !== null && !Array.isArray(document) ? { ...document, version: 0 } : document;
    return compileRules(validateRules(doc, 'draft rules'));
  } catch (err) {
    if (err instanceof ConfigError) throw new MessageTestRefused(err.message);
    throw err;
  }
}

function stage(name: Stage['stage'], subject: string, d: EnvelopeDecision): Stage {
  if (d.ok) return { stage: name, subject, ok: true, allowed: d.allowed, reply: name === 'connect' ? '220 ready' : '250 2.1.0 Ok', ...(d.reason ? { reason: { ...d.reason } } : {}) };
  return { stage: name, subject, ok: false, allowed: false, reply: `${d.code} ${d.enhanced} ${d.text}`, reason: { ...d.reason } };
}
