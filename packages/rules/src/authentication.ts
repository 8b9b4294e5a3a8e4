import type { AuthFacts, MessageFacts, Reason } from './facts.ts';
import type { Rules } from './schema.ts';
import { clip } from './text.ts';
import { compileDomainList } from './address-match.ts';

/**
 * Reasons from the sender-authentication facts: one per check (SPF, DKIM, DMARC) so the message
 * log says what each gave, with the score `authentication` assigns to a failure, and for a
 * DMARC failure the action configured for the policy the From domain publishes.
 */
export function authenticationReasons(policy: Rules['authentication'], facts: MessageFacts): Reason[] {
  const auth: AuthFacts | undefined = facts.auth;
  if (auth === undefined) return [];
  const reasons: Reason[] = [];
  const spfScore = auth.spf.result === 'fail' ? policy.spfFail : auth.spf.result === 'softfail' ? policy.spfSoftfail : auth.spf.result === 'permerror' ? policy.spfPermerror : undefined;
  reasons.push(reason('auth.spf', auth.spf.result, auth.spf.domain, spfScore));
  reasons.push(reason('auth.dkim', auth.dkim.result, auth.dkim.domain, auth.dkim.result === 'fail' ? policy.dkimFail : undefined));
  const sealer = auth.arc.sealer ?? '';
  const vouched = auth.dmarc.result === 'fail' && auth.arc.result === 'pass' && sealer !== '' && trustedSealer(policy.arcTrustedSealers, sealer);
  if (vouched) {
    // A trusted forwarder changed the mail (and so broke DMARC) and sealed what it received: its seal stands for the original's result.
    reasons.push(reason('auth.dmarc', auth.dmarc.result, `${auth.dmarc.domain} (ARC-sealed by trusted ${sealer})`, undefined));
  } else {
    const dmarc = reason('auth.dmarc', auth.dmarc.result, auth.dmarc.domain, auth.dmarc.result === 'fail' ? policy.dmarcFail : undefined);
    const action = auth.dmarc.result !== 'fail' ? undefined : auth.dmarc.policy === 'reject' ? policy.dmarcReject : auth.dmarc.policy === 'quarantine' ? policy.dmarcQuarantine : undefined;
    reasons.push(action && action !== 'deliver' ? { ...dmarc, match: clip(`${dmarc.match} p=${auth.dmarc.policy}`), action } : dmarc);
  }
  if (auth.arc.result !== 'none') reasons.push(reason('auth.arc', auth.arc.result, sealer, auth.arc.result === 'fail' ? policy.arcFail : undefined));
  return reasons;
}

function reason(rule: string, result: string, domain: string, score: number | undefined): Reason {
  const match = clip(domain ? `${result} ${domain}` : result);
  return score === undefined || score === 0 ? { kind: 'analyzer', rule, match } : { kind: 'analyzer', rule, match, score };
}

/** Matchers per sealer list, so a rules version compiles its list once (the list is frozen with the rules). */
const sealerMatchers = new WeakMap<readonly string[], ReturnType<typeof compileDomainList>>();
function trustedSealer(list: readonly string[], sealer: string): boolean {
  let match = sealerMatchers.get(list);
  if (!match) sealerMatchers.set(list, (match = compileDomainList(list)));
  return match(sealer) !== undefined;
}
