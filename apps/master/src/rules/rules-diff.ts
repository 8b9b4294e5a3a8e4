import type { Rules } from '@moat/rules';

/**
 * What changed between two rules documents, for the audit entry: the top-level keys that
 * differ and, for content rules (the part edited most), which rule ids were added, removed or
 * changed. A summary for people, not a patch; id lists are capped so an entry stays small.
 */
export interface RulesChangeSummary {
  readonly changedKeys: string[];
  readonly content?: { added: string[]; removed: string[]; changed: string[] };
}

const MAX_IDS = 50;

export function summarizeRulesChange(before: Rules | undefined, after: Rules): RulesChangeSummary {
  const keys = new Set([...Object.keys(before ?? {}), ...Object.keys(after)]);
  keys.delete('version');
  const changedKeys = [...keys].filter((key) => !sameJson(field(before, key), field(after, key))).sort();
  if (!changedKeys.includes('content')) return { changedKeys };
  const old = new Map((before?.content ?? []).map((rule) => [rule.id, canonicalJson(rule)]));
  const now = new Map(after.content.map((rule) => [rule.id, canonicalJson(rule)]));
  const added = [...now.keys()].filter((id) => !old.has(id));
  const removed = [...old.keys()].filter((id) => !now.has(id));
  const changed = [...now.keys()].filter((id) => old.has(id) && old.get(id) !== now.get(id));
  return { changedKeys, content: { added: added.slice(0, MAX_IDS), removed: removed.slice(0, MAX_IDS), changed: changed.slice(0, MAX_IDS) } };
}

function field(doc: Rules | undefined, key: string): unknown {
  return doc === undefined ? undefined : (doc as unknown as Record<string, unknown>)[key];
}

function sameJson(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

/** JSON with object keys sorted, so key order in the submitted document is not a "change". */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}
