import type { Rules } from '@moat/rules';
import { summarizeRulesChange, type RulesChangeSummary } from './rules-diff.ts';

/**
 * An admin's save, checked against the rules as they are now. Only admins make rules versions:
 * the end users' own lists have a store and versions of their own (recipient-lists/), so an
 * end user's click never makes an admin's page stale and a save can never undo it.
 *
 * An edit says which version it started from (`baseVersion`): if the rules changed since then
 * (another admin, a rollback, the move of migration 17), nothing is stored and the admin is
 * told what changed. Without a base version (an old API client) the save is unconditional,
 * except that a document leaving `recipientLists` out keeps the current ones.
 */
export type Rebase =
  | { readonly ok: true; readonly input: Record<string, unknown> }
  | { readonly ok: false; readonly changes: RulesChangeSummary };

export function rebaseRulesEdit(input: Record<string, unknown>, base: Rules | undefined, current: Rules): Rebase {
  if (base === undefined) {
    return { ok: true, input: 'recipientLists' in input ? input : { ...input, recipientLists: current.recipientLists ?? {} } };
  }
  const changes = summarizeRulesChange(base, current);
  return changes.changedKeys.length > 0 ? { ok: false, changes } : { ok: true, input };
}
