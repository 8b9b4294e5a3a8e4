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

/**
 * An allow-list hit skips the authentication stage, but an allow entry names a sender, a
 * recipient or a client, and a From that fails DMARC may be forged: it must not pass unmarked
 * on the strength of the name it forged (issue 18). So allow-listed mail whose DMARC fails (and
 * no trusted ARC sealer vouches for it) is still acted on by the From domain's policy: p=reject
 * and p=quarantine get the configured action (`dmarcReject`, `dmarcQuarantine`), at least a tag
 * and at most quarantine (the recipient can release a wanted message); p=none, or no policy, a tag.
 */
export function dmarcOnAllowListed(policy: Rules['authentication'], facts: MessageFacts): Reason[] {
  const auth = facts.auth;
  if (auth === undefined || auth.dmarc.result !== 'fail') return [];
  const sealer = auth.arc.sealer ?? '';
  if (auth.arc.result === 'pass' && sealer !== '' && trustedSealer(policy.arcTrustedSealers, sealer)) return [];
  const configured = auth.dmarc.policy === 'reject' ? policy.dmarcReject : auth.dmarc.policy === 'quarantine' ? policy.dmarcQuarantine : 'tag';
  const action = configured === 'deliver' ? 'tag' : configured === 'reject' ? 'quarantine' : configured;
  const p = auth.dmarc.policy === '' ? 'no policy' : `p=${auth.dmarc.policy}`;
  return [{ kind: 'analyzer', rule: 'auth.dmarc.allowListed', match: clip(`fail ${auth.dmarc.domain} ${p}: an allow entry does not vouch for a From that fails DMARC`), action }];
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
