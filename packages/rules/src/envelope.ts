import type { CompiledRules } from './compile.ts';
import type { EnvelopeDecision, Reason } from './facts.ts';
import { splitAddress } from './address-match.ts';
import { ipAllowed, recipientAllowed, senderAllowed } from './allow.ts';
import { clip } from './text.ts';

/**
 * The SMTP-stage checks. Each stage applies its own lists; an allow-list hit always wins over
 * a block-list hit and is reported as `allowed: true`. Reply texts say which kind of list
 * decided but never which entry (that stays in the reason, for the log), and echo at most
 * 200 characters of the sender's input.
 */

/** At connect: the client address lists. */
export function checkClient(c: CompiledRules, ip: string): EnvelopeDecision {
  const allowed = ipAllowed(c, ip);
  if (allowed) return { ok: true, allowed: true, reason: allowed };
  const blocked = c.ipBlock(ip);
  if (blocked === undefined) return { ok: true, allowed: false };
  return refuse(554, 'Access denied: client address is on the IP block list', {
    kind: 'ip-list', rule: 'ipBlock', match: clip(blocked), action: 'reject',
  });
}

/** At MAIL FROM: the sender lists; an allow-listed client address also passes. */
export function checkSender(c: CompiledRules, ip: string, mailFrom: string): EnvelopeDecision {
  const allowed = ipAllowed(c, ip) ?? senderAllowed(c, mailFrom);
  if (allowed) return { ok: true, allowed: true, reason: allowed };
  const blocked = c.senderBlock(mailFrom);
  if (blocked === undefined) return { ok: true, allowed: false };
  return refuse(550, `<${clip(mailFrom)}>: Sender address rejected: sender is on the sender block list`, {
    kind: 'sender-list', rule: 'senderBlock', match: clip(blocked), action: 'reject',
  });
}

/**
 * At RCPT TO. The accepted-domains check comes first and no allow-list skips it: an
 * allow-listed client must not be able to relay to the outside world through the gateway.
 * Then the recipient's own block list (`recipientLists`): only this recipient is refused,
 * the others of the transaction still get their 250.
 */
export function checkRecipient(c: CompiledRules, ip: string, mailFrom: string, rcpt: string): EnvelopeDecision {
  const { domain } = splitAddress(rcpt);
  if (c.acceptedDomain(domain) === undefined) {
    return refuse(550, `<${clip(rcpt)}>: Relaying denied: recipient domain is not an accepted domain`, {
      kind: 'recipient-list', rule: 'acceptedDomains', match: clip(domain), action: 'reject',
    });
  }
  // The recipient's own block list is its own choice: it holds even for an allow-listed client or sender.
  const ownBlocked = c.ownLists(rcpt)?.block(mailFrom);
  if (ownBlocked !== undefined) {
    return refuse(550, `<${clip(rcpt)}>: Recipient address rejected: the recipient does not accept mail from this sender`, {
      kind: 'recipient-list', rule: 'recipientLists.block', match: clip(`${rcpt}: ${ownBlocked}`), action: 'reject',
    });
  }
  const allowed = ipAllowed(c, ip) ?? senderAllowed(c, mailFrom) ?? recipientAllowed(c, rcpt);
  if (allowed) return { ok: true, allowed: true, reason: allowed };
  const blocked = c.recipientBlock(rcpt);
  if (blocked === undefined) return { ok: true, allowed: false };
  return refuse(550, `<${clip(rcpt)}>: Recipient address rejected: recipient is on the recipient block list`, {
    kind: 'recipient-list', rule: 'recipientBlock', match: clip(blocked), action: 'reject',
  });
}

function refuse(code: number, text: string, reason: Reason): EnvelopeDecision {
  return { ok: false, code, enhanced: '5.7.1', text, reason };
}
