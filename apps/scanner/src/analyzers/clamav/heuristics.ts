import type { Findings } from '../analyzer.ts';

/** What a heuristic finding does: nothing but a record (`off`) or that action. */
export type HeuristicAction = 'off' | 'tag' | 'quarantine' | 'reject';

export interface HeuristicsPolicy {
  /** `Heuristics.OLE2.ContainsMacros*` (clamd's `AlertOLE2Macros`): reason `clamav.macros`. */
  readonly macros: HeuristicAction;
  /** `Heuristics.Encrypted.*` (clamd's `AlertEncrypted`): reason `clamav.encrypted`. */
  readonly encrypted: HeuristicAction;
}

/**
 * clamd names the two policy heuristics by family: `Heuristics.OLE2.ContainsMacros` (with `.VBA`,
 * `.XLM` and the like after it in ClamAV 1.x) and `Heuristics.Encrypted.Zip`, `.RAR`, `.7Zip`,
 * `.PDF`… Any other name, `Heuristics.*` included (phishing, broken executables), stays a virus.
 */
const FAMILIES = [
  { key: 'macros', rule: 'clamav.macros', pattern: /^Heuristics\.OLE2\.ContainsMacros(?:\.|$)/ },
  { key: 'encrypted', rule: 'clamav.encrypted', pattern: /^Heuristics\.Encrypted(?:\.|$)/ },
] as const;

/**
 * The findings for a name clamd reported when it is one of the policy heuristics, else
 * undefined (a virus). Not a virus: an entry the rules add as a reason, with the policy's action
 * unless it is `off` (recorded with score 0, delivered).
 */
export function heuristicFindings(name: string, policy: HeuristicsPolicy): Findings | undefined {
  const family = FAMILIES.find((f) => f.pattern.test(name));
  if (!family) return undefined;
  const action = policy[family.key];
  return {
    headers: [`X-Moat-Virus-Scan: no virus found; heuristic ${name}`.replace(/[\r\n]/g, ' ')],
    extraScores: [{ id: family.rule, score: 0, detail: name, ...(action === 'off' ? {} : { action }) }],
  };
}
