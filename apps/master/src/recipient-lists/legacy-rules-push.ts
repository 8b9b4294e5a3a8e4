import { MAX_RECIPIENT_LIST_ENTRIES, type RecipientList, type RecipientLists, type Rules } from '@moat/rules';

/**
 * A scanner that speaks protocol 7 (a rolling upgrade) knows no end-user lists frame: it gets
 * them as it always did, inside the rules (`recipientLists`), beside the admin's own entries
 * for the same recipient. Each list keeps at most the rules' cap (the admin's entries first),
 * so the document still passes that scanner's validation.
 */
export function rulesWithEndUserLists(document: Rules, endUsers: RecipientLists): Rules {
  if (Object.keys(endUsers).length === 0) return document;
  const merged: Record<string, RecipientList> = { ...document.recipientLists };
  for (const [recipient, own] of Object.entries(endUsers)) {
    const admin = merged[recipient];
    merged[recipient] = admin === undefined ? own : { allow: union(admin.allow, own.allow), block: union(admin.block, own.block) };
  }
  return { ...document, recipientLists: merged };
}

function union(a: readonly string[], b: readonly string[]): string[] {
  return [...new Set([...a, ...b])].slice(0, MAX_RECIPIENT_LIST_ENTRIES);
}
