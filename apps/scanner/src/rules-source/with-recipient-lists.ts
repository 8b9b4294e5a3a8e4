import { withOwnLists, type CompiledRules, type OwnListsLookup } from '@moat/rules';
import type { RulesSource } from './rules-source.ts';
import type { PushedRecipientLists } from './pushed-recipient-lists.ts';

/**
 * The rules a scanner filters with: the pushed rules, whose list checks also read the end
 * users' lists from their own source. Composed once per change of either, not per message;
 * `onChange` listeners hear of rules changes only (a list change alters no setting they read).
 */
export function withRecipientLists(rules: RulesSource, lists: PushedRecipientLists): RulesSource {
  let cached: { rules: CompiledRules; lists: OwnListsLookup; composed: CompiledRules } | undefined;
  const current = (): CompiledRules => {
    const r = rules.current();
    const l = lists.lookup();
    if (cached?.rules !== r || cached.lists !== l) cached = { rules: r, lists: l, composed: withOwnLists(r, l) };
    return cached.composed;
  };
  return {
    current,
    onChange: (listener) => rules.onChange(() => listener(current())),
    close: () => rules.close(),
  };
}
