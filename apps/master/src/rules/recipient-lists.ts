import { MAX_RECIPIENT_LIST_ENTRIES, RECIPIENT_LIST_DOMAIN, RECIPIENT_LIST_ENTRY_PATTERN, type RecipientList, type Rules } from '@moat/rules';
import { currentRules, pruneEndUserVersions } from './rules-repository.ts';
import { publishRules, type PublishDeps } from './publish-rules.ts';
import type { StoredRules } from './rules-repository.ts';

export type ListName = 'allow' | 'block';

const DOMAIN = new RegExp(`^${RECIPIENT_LIST_DOMAIN}$`);
const RECIPIENT_LIST_ENTRY = new RegExp(RECIPIENT_LIST_ENTRY_PATTERN);

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
  const typed = change.pattern.trim().toLowerCase();
  // A bare domain means the whole domain.
  const pattern = !typed.includes('@') && DOMAIN.test(typed) ? `*@${typed}` : typed;
  // A pattern such as `*e*` would switch the filtering off (allow) or most mail off (block) for this person.
  if (change.op === 'add' && !RECIPIENT_LIST_ENTRY.test(pattern)) throw new RangeError('pattern: only an address (name@example.com) or a whole domain (*@example.com or example.com), no other wildcards');
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
  const stored = publishRules(deps, {
    input: { ...current.document, recipientLists: lists },
    by: { username: `enduser:${recipient}`, via: 'enduser' },
    ip,
    comment: `${recipient}: ${change.op} ${pattern} ${change.op === 'add' ? 'to' : 'from'} the ${change.list} list`,
    action: 'rules.recipient-lists',
    extra: { recipient, list: change.list, op: change.op, pattern },
  });
  pruneEndUserVersions(deps.db, deps.now());
  return stored;
}
