import { MAX_RECIPIENT_LIST_ENTRIES, type RecipientList, type Rules } from '@moat/rules';
import { currentRules } from './rules-repository.ts';
import { publishRules, type PublishDeps } from './publish-rules.ts';
import type { StoredRules } from './rules-repository.ts';

export type ListName = 'allow' | 'block';

/** A recipient's own lists in the current rules (empty lists when it has none). */
export function recipientLists(rules: Rules | undefined, recipient: string): RecipientList {
  return rules?.recipientLists?.[recipient] ?? { allow: [], block: [] };
}

export type ListChange = { readonly op: 'add' | 'remove'; readonly list: ListName; readonly pattern: string };

/**
 * Change one recipient's own allow or block list: a new rules version (current + 1) pushed to
 * every scanner, audited as the end user. A pattern moves between lists rather than sitting on
 * both. Returns undefined when nothing changes (already there / not there): no new version.
 * Throws ConfigError (from validateRules) for a bad pattern, RangeError for a full list.
 */
export function changeRecipientList(deps: PublishDeps, recipient: string, change: ListChange, ip: string): StoredRules | undefined {
  const current = currentRules(deps.db);
  if (!current) throw new Error('no rules to change');
  const pattern = change.pattern.trim().toLowerCase();
  // Only wildcards would switch the filtering off (allow) or all mail off (block) for this person.
  if (change.op === 'add' && /^[*?.@]+$/.test(pattern)) throw new RangeError('an entry must name a sender or a domain, not only wildcards');
  const before = recipientLists(current.document, recipient);
  const other: ListName = change.list === 'allow' ? 'block' : 'allow';
  const next: RecipientList = { allow: [...before.allow], block: [...before.block] };
  if (change.op === 'add') {
    if (next[change.list].includes(pattern)) return undefined;
    if (next[change.list].length >= MAX_RECIPIENT_LIST_ENTRIES) throw new RangeError(`the ${change.list} list holds at most ${MAX_RECIPIENT_LIST_ENTRIES} entries`);
    next[change.list].push(pattern);
    next[other] = next[other].filter((p) => p !== pattern);
  } else {
    if (!next[change.list].includes(pattern)) return undefined;
    next[change.list] = next[change.list].filter((p) => p !== pattern);
  }
  const lists = { ...current.document.recipientLists };
  if (next.allow.length === 0 && next.block.length === 0) delete lists[recipient];
  else lists[recipient] = next;
  return publishRules(deps, {
    input: { ...current.document, recipientLists: lists },
    by: { username: `enduser:${recipient}`, via: 'enduser' },
    ip,
    comment: `${recipient}: ${change.op} ${pattern} ${change.op === 'add' ? 'to' : 'from'} the ${change.list} list`,
    action: 'rules.recipient-lists',
    extra: { recipient, list: change.list, op: change.op, pattern },
  });
}
