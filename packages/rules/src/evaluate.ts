import { strongestAction } from './action.ts';
import { allowReasons } from './allow.ts';
import { attachmentReasons } from './attachments.ts';
import { authenticationReasons, dmarcOnAllowListed } from './authentication.ts';
import type { CompiledRules } from './compile.ts';
import { contentReasons } from './content.ts';
import { gtubeReasons } from './gtube.ts';
import type { MessageFacts, Reason, Verdict } from './facts.ts';
import { rejectText } from './reject-text.ts';
import { analyzerReasons, scoreReason, totalScore } from './scoring.ts';
import { clip } from './text.ts';

interface Stage {
  /** The row of the precedence table in README.md. */
  readonly row: string;
  /** An allow-list hit skips this stage. Malware checks are never skipped. */
  readonly skippedWhenAllowed: boolean;
  /** A hit in this stage is an allow-list hit. */
  readonly allows: boolean;
  readonly run: (c: CompiledRules, facts: MessageFacts, before: readonly Reason[]) => Reason[];
}

/**
 * The precedence of the verdict, in one place. Every stage adds reasons; the verdict's action
 * is the strongest action any reason asks for (deliver < tag < quarantine < reject). Keep this
 * table and the one in README.md in step.
 */
const PRECEDENCE: readonly Stage[] = [
  { row: 'a. virus', skippedWhenAllowed: false, allows: false, run: (_c, facts) => virusReasons(facts) },
  { row: 'b. attachment policy', skippedWhenAllowed: false, allows: false, run: (c, facts) => attachmentReasons(c.attachments, facts.attachments) },
  // An allow hit never lets a From that fails DMARC through unmarked (authentication.ts, dmarcOnAllowListed).
  { row: 'c. allow-lists', skippedWhenAllowed: false, allows: true, run: (c, facts) => {
    const allowed = allowReasons(c, facts);
    return allowed.length === 0 ? allowed : [...allowed, ...dmarcOnAllowListed(c.rules.authentication, facts)];
  } },
  { row: 'd. size', skippedWhenAllowed: true, allows: false, run: (c, facts) => sizeReasons(c, facts) },
  { row: 'e. GTUBE', skippedWhenAllowed: true, allows: false, run: (_c, facts) => gtubeReasons(facts) },
  { row: 'e. content rules', skippedWhenAllowed: true, allows: false, run: (c, facts) => contentReasons(c.content, facts) },
  { row: 'e. sender authentication', skippedWhenAllowed: true, allows: false, run: (c, facts) => authenticationReasons(c.rules.authentication, facts) },
  { row: 'e. analyzer scores', skippedWhenAllowed: true, allows: false, run: (_c, facts) => analyzerReasons(facts) },
  { row: 'e. score thresholds', skippedWhenAllowed: true, allows: false, run: (c, _facts, before) => scoreReason(totalScore(before), c.rules.scoring) },
];

/** Decide one message from its facts. Pure: same rules and facts, same verdict. */
export function evaluateMessage(c: CompiledRules, facts: MessageFacts): Verdict {
  const reasons: Reason[] = [];
  let allowed = false;
  for (const stage of PRECEDENCE) {
    if (allowed && stage.skippedWhenAllowed) continue;
    const found = stage.run(c, facts, reasons);
    if (stage.allows && found.length > 0) allowed = true;
    for (const reason of found) reasons.push(reason);
  }
  const action = strongestAction(reasons);
  return {
    action,
    score: totalScore(reasons),
    allowed,
    reasons,
    rejectText: action === 'reject' ? rejectText(reasons, c.rules.limits.maxMessageBytes) : undefined,
    rulesVersion: c.version,
  };
}

function virusReasons(facts: MessageFacts): Reason[] {
  const { virus } = facts;
  if (virus === undefined) return [];
  // Anything but an explicit reject is held back: a malformed virus fact must not deliver.
  return [{ kind: 'virus', rule: 'virus', match: clip(String(virus.name)), action: virus.action === 'reject' ? 'reject' : 'quarantine' }];
}

function sizeReasons(c: CompiledRules, facts: MessageFacts): Reason[] {
  const limit = c.rules.limits.maxMessageBytes;
  if (!(facts.sizeBytes > limit)) return [];
  return [{ kind: 'size', rule: 'limits.maxMessageBytes', match: `${facts.sizeBytes} bytes > ${limit}`, action: 'reject' }];
}
