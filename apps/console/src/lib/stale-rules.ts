/**
 * A rules save refused because the rules changed since the editor loaded them (409
 * MOAT_ERR_STALE_RULES): what to tell the admin, from the answer's `details`. Pure, so it is
 * tested without a browser.
 */
export interface StaleRulesDetails {
  baseVersion: number;
  currentVersion: number;
  changedKeys?: string[];
  content?: { added: string[]; removed: string[]; changed: string[] };
  versions?: Array<{ version: number; createdBy: string; createdAt: string; comment: string }>;
}

export function isStaleRules(code: string, details: unknown): details is StaleRulesDetails {
  return code === 'MOAT_ERR_STALE_RULES' && typeof details === 'object' && details !== null && typeof (details as StaleRulesDetails).currentVersion === 'number';
}

/** The headline and one line per change, e.g. `content rules added: new-rule`. */
export function describeStaleRules(d: StaleRulesDetails): { headline: string; lines: string[] } {
  const lines: string[] = [];
  for (const v of d.versions ?? []) lines.push(`version ${v.version} by ${v.createdBy}${v.comment ? `: ${v.comment}` : ''}`);
  const keys = (d.changedKeys ?? []).filter((k) => k !== 'content');
  if (keys.length > 0) lines.push(`changed: ${keys.join(', ')}`);
  const c = d.content;
  if (c) {
    if (c.added.length > 0) lines.push(`content rules added: ${c.added.join(', ')}`);
    if (c.removed.length > 0) lines.push(`content rules removed: ${c.removed.join(', ')}`);
    if (c.changed.length > 0) lines.push(`content rules changed: ${c.changed.join(', ')}`);
  }
  return {
    headline: `Nothing was saved: the rules changed since you opened version ${d.baseVersion} (now version ${d.currentVersion}). Load the current version and make your change again.`,
    lines,
  };
}
