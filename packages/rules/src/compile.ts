import { compileAddressList, compileDomainList, splitAddress, type AddressMatcher } from './address-match.ts';
import { compileIpList, type IpMatcher } from './ip-match.ts';
import type { Action, ContentRule, RecipientLists, Route, Rules, VerifiedDomain } from './schema.ts';
import { compileRouting } from './routing.ts';

/**
 * A rules document turned into matchers once, when a version is swapped in, so that the
 * per-connection and per-message checks do no parsing or RegExp construction. Immutable and
 * shared by every message evaluated under this version.
 */
export interface CompiledRules {
  readonly rules: Rules;
  readonly version: number;
  readonly ipAllow: IpMatcher;
  readonly ipBlock: IpMatcher;
  readonly senderAllow: AddressMatcher;
  readonly senderBlock: AddressMatcher;
  readonly recipientAllow: AddressMatcher;
  readonly recipientBlock: AddressMatcher;
  /** Takes a bare domain. */
  readonly acceptedDomain: AddressMatcher;
  /** Enabled rules only, in document order. */
  readonly content: readonly CompiledContentRule[];
  readonly attachments: CompiledAttachmentPolicy;
  /**
   * One recipient's own sender lists, by recipient address as given; undefined when it has none.
   * From the rules' `recipientLists` (an admin's); a scanner adds the end users' lists with
   * {@link withOwnLists}.
   */
  readonly ownLists: OwnListsLookup;
  /** The recipient verification entry of a bare domain (`recipientVerification.domains`), the first that matches. */
  readonly verifiedDomain: (domain: string) => VerifiedDomain | undefined;
  /** The route of a bare domain (`routing.domains`), the first that matches; undefined: the scanner's own `relay`. */
  readonly route: (domain: string) => Route | undefined;
}

/** A recipient's own lists; each matcher takes the envelope sender. */
export interface OwnLists {
  readonly allow: AddressMatcher;
  readonly block: AddressMatcher;
}

export type OwnListsLookup = (rcpt: string) => OwnLists | undefined;

/** Sender lists per recipient turned into matchers, looked up by recipient (case-insensitive). */
export function compileOwnLists(lists: RecipientLists): OwnListsLookup {
  const own = new Map<string, OwnLists>();
  for (const [recipient, l] of Object.entries(lists)) {
    own.set(addressKey(recipient), Object.freeze({ allow: compileAddressList(l.allow), block: compileAddressList(l.block) }));
  }
  return (rcpt) => (own.size === 0 ? undefined : own.get(addressKey(rcpt)));
}

/**
 * The rules with a second source of recipients' own lists beside the rules' `recipientLists`:
 * the end users' lists, which the master versions and pushes apart from the rules. A sender on
 * either block list is refused for that recipient, one on either allow list is allowed (a
 * block still wins at RCPT TO, as within one list set).
 */
export function withOwnLists(c: CompiledRules, extra: OwnListsLookup): CompiledRules {
  const lookup: OwnListsLookup = (rcpt) => {
    const a = c.ownLists(rcpt);
    const b = extra(rcpt);
    if (a === undefined || b === undefined) return a ?? b;
    return { allow: (sender) => a.allow(sender) ?? b.allow(sender), block: (sender) => a.block(sender) ?? b.block(sender) };
  };
  return Object.freeze({ ...c, ownLists: lookup });
}

export interface CompiledContentRule {
  readonly id: string;
  readonly target: ContentRule['target'];
  /** Lower-cased header name, for target `header`. */
  readonly header: string;
  /** `contains` is compiled too (escaped), so both kinds report the text that actually matched. */
  readonly regex: RegExp;
  readonly action?: Action | undefined;
  readonly score?: number | undefined;
}

export interface CompiledAttachmentPolicy {
  readonly blockedExtensions: ReadonlySet<string>;
  readonly blockDoubleExtensions: boolean;
  readonly blockedMimeTypes: ReadonlySet<string>;
  readonly scanArchives: boolean;
  readonly action: 'quarantine' | 'reject';
}

/** Expects a document that passed validateRules; an invalid one may throw. */
export function compileRules(rules: Rules): CompiledRules {
  const { lists, attachments } = rules;
  const verified = rules.recipientVerification?.domains ?? [];
  const verifiedMatch = compileDomainList(verified.map((d) => d.domain));
  return Object.freeze({
    rules,
    version: rules.version,
    ipAllow: compileIpList(lists.ipAllow),
    ipBlock: compileIpList(lists.ipBlock),
    senderAllow: compileAddressList(lists.senderAllow),
    senderBlock: compileAddressList(lists.senderBlock),
    recipientAllow: compileAddressList(lists.recipientAllow),
    recipientBlock: compileAddressList(lists.recipientBlock),
    acceptedDomain: compileDomainList(rules.acceptedDomains),
    content: Object.freeze(rules.content.filter((rule) => rule.enabled).map(compileContentRule)),
    attachments: Object.freeze({
      blockedExtensions: new Set(attachments.blockedExtensions.map((e) => e.toLowerCase())),
      blockDoubleExtensions: attachments.blockDoubleExtensions,
      blockedMimeTypes: new Set(attachments.blockedMimeTypes.map((m) => m.trim().toLowerCase())),
      scanArchives: attachments.scanArchives,
      action: attachments.action,
    }),
    ownLists: compileOwnLists(rules.recipientLists ?? {}),
    route: compileRouting(rules.routing ?? { domains: [] }),
    verifiedDomain: (domain: string) => {
      if (verified.length === 0) return undefined;
      const pattern = verifiedMatch(domain);
      return pattern === undefined ? undefined : verified.find((d) => d.domain === pattern);
    },
  });
}

function compileContentRule(rule: ContentRule): CompiledContentRule {
  const source = rule.regex ?? escapeRegExp(rule.contains ?? '');
  return Object.freeze({
    id: rule.id,
    target: rule.target,
    header: (rule.header ?? '').toLowerCase(),
    regex: new RegExp(source, rule.caseInsensitive ? 'i' : ''),
    action: rule.action,
    score: rule.score,
  });
}

/** Recipient keys compare case-insensitively, as every address pattern does. */
function addressKey(address: string): string {
  const { local, domain } = splitAddress(address);
  return `${local}@${domain}`;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}
