import type { CompiledRules } from './compile.ts';
import type { MessageFacts, Reason } from './facts.ts';
import { clip } from './text.ts';

export function ipAllowed(c: CompiledRules, ip: string): Reason | undefined {
  const hit = c.ipAllow(ip);
  return hit === undefined ? undefined : { kind: 'ip-list', rule: 'ipAllow', match: clip(hit), action: 'deliver' };
}

export function senderAllowed(c: CompiledRules, mailFrom: string): Reason | undefined {
  const hit = c.senderAllow(mailFrom);
  return hit === undefined ? undefined : { kind: 'sender-list', rule: 'senderAllow', match: clip(hit), action: 'deliver' };
}

export function recipientAllowed(c: CompiledRules, rcpt: string): Reason | undefined {
  const hit = c.recipientAllow(rcpt);
  return hit === undefined ? undefined : { kind: 'recipient-list', rule: 'recipientAllow', match: clip(hit), action: 'deliver' };
}

/**
 * The allow-list stage of a whole message. Recipients count only when every one of them is
 * allow-listed (by `recipientAllow`, or by its own `recipientLists` allow list naming the
 * sender): one allow-listed recipient must not carry unfiltered mail to the others.
 */
export function allowReasons(c: CompiledRules, facts: MessageFacts): Reason[] {
  const byClient = ipAllowed(c, facts.clientIp) ?? senderAllowed(c, facts.mailFrom);
  if (byClient !== undefined) return [byClient];
  if (facts.rcptTo.length === 0) return [];
  const hits = new Set<string>();
  let personal = false;
  for (const rcpt of facts.rcptTo) {
    const hit = c.recipientAllow(rcpt);
    if (hit !== undefined) {
      hits.add(hit);
      continue;
    }
    // A recipient's own allow list counts for that recipient only: every one must allow.
    const own = c.ownLists(rcpt)?.allow(facts.mailFrom);
    if (own === undefined) return [];
    personal = true;
    hits.add(`${rcpt}: ${own}`);
  }
  const rule = personal ? 'recipientLists.allow' : 'recipientAllow';
  return [{ kind: 'recipient-list', rule, match: clip([...hits].join(', ')), action: 'deliver' }];
}
