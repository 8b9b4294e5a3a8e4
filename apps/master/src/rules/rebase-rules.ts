import type { Rules } from '@moat/rules';
import { canonicalJson, summarizeRulesChange, type RulesChangeSummary } from './rules-diff.ts';

/**
 * An admin's save, put on top of the rules as they are now. The rules document holds two
 * things edited by different people: the admin's rules, and `recipientLists`, which end users
 * change one click at a time from their quarantine pages (each click a new version). An
 * admin's save of the whole document used to write back the lists as they were when the page
 * was loaded, silently undoing every end user's change since.
 *
 * Now an edit says which version it started from (`baseVersion`):
 * - the admin's part (everything but `recipientLists`) changed since then (another admin, a
 *   rollback): a conflict; nothing is stored and the admin is told what changed;
 * - each recipient's lists: the admin did not touch them → they stay as they are now; the
 *   admin changed them and nobody else did → the admin's; both changed them → a conflict.
 * Without a base version (an old API client), the lists of the current version are kept when
 * the document leaves `recipientLists` out, and the save is otherwise unconditional.
 */
export type Rebase =
  | { readonly ok: true; readonly input: Record<string, unknown> }
  | { readonly ok: false; readonly changes: StaleChanges };

export interface StaleChanges extends RulesChangeSummary {
  /** Recipients whose lists both this edit and an end user changed. */
  readonly recipients: string[];
}

type Lists = NonNullable<Rules['recipientLists']>;

export function rebaseRulesEdit(input: Record<string, unknown>, base: Rules | undefined, current: Rules): Rebase {
  const currentLists: Lists = current.recipientLists ?? {};
  if (base === undefined) {
    return { ok: true, input: 'recipientLists' in input ? input : { ...input, recipientLists: currentLists } };
  }
  const adminChanges = summarizeRulesChange(adminPart(base), adminPart(current));
  const baseLists: Lists = base.recipientLists ?? {};
  const editedLists = (input.recipientLists ?? {}) as Lists;
  const merged: Lists = {};
  const conflicts: string[] = [];
  for (const recipient of new Set([...Object.keys(baseLists), ...Object.keys(editedLists), ...Object.keys(currentLists)])) {
    const [b, e, c] = [baseLists[recipient], editedLists[recipient], currentLists[recipient]].map((l) => canonicalJson(l ?? null));
    const pick = e === b ? currentLists[recipient] : c === b || c === e ? editedLists[recipient] : undefined;
    if (e !== b && c !== b && c !== e) conflicts.push(recipient);
    else if (pick !== undefined) merged[recipient] = pick;
  }
  if (adminChanges.changedKeys.length > 0 || conflicts.length > 0) {
    return { ok: false, changes: { ...adminChanges, changedKeys: conflicts.length > 0 ? [...adminChanges.changedKeys, 'recipientLists'].sort() : adminChanges.changedKeys, recipients: conflicts.slice(0, 50) } };
  }
  return { ok: true, input: { ...input, recipientLists: merged } };
}

/** The admin's part of a document: all but the end users' lists (and the version number). */
function adminPart(doc: Rules): Rules {
  const { recipientLists: _lists, ...rest } = doc;
  return { ...rest, version: 0 } as Rules;
}
