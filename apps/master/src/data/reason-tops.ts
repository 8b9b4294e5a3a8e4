/**
 * What a message's reasons add to the daily top lists: the virus it carried, and the domains
 * that failed sender authentication. Reasons come from the rules (`packages/rules`): a virus is
 * `{ kind: 'virus', match: <signature> }`; an authentication result is
 * `{ kind: 'analyzer', rule: 'auth.spf' | 'auth.dkim' | 'auth.dmarc', match: '<result> <domain>[ p=<policy>]' }`.
 * reports-from-log.ts computes the same from the log in SQL; keep the two in step.
 */

export type ReasonTopKind = 'virus' | 'spf_fail' | 'dkim_fail' | 'dmarc_fail';
export const REASON_TOP_KINDS: readonly ReasonTopKind[] = ['virus', 'spf_fail', 'dkim_fail', 'dmarc_fail'];

/** Which results count as a failure of each check (SPF: fail and softfail: both say "not authorised"). */
export const AUTH_FAILURES: Readonly<Record<string, { readonly kind: ReasonTopKind; readonly results: readonly string[] }>> = {
  'auth.spf': { kind: 'spf_fail', results: ['fail', 'softfail'] },
  'auth.dkim': { kind: 'dkim_fail', results: ['fail'] },
  'auth.dmarc': { kind: 'dmarc_fail', results: ['fail'] },
};

export interface ReasonLike {
  readonly kind: string;
  readonly rule: string;
  readonly match: string;
}

/** Each (kind, value) at most once per message; domains lower-cased ('' when the reason names none). */
export function reasonTopEntries(reasons: readonly ReasonLike[]): [ReasonTopKind, string][] {
  const seen = new Set<string>();
  const out: [ReasonTopKind, string][] = [];
  const add = (kind: ReasonTopKind, value: string) => {
    const key = `${kind}\0${value}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push([kind, value]);
  };
  for (const r of reasons) {
    if (r.kind === 'virus') {
      add('virus', r.match);
      continue;
    }
    const check = r.kind === 'analyzer' ? AUTH_FAILURES[r.rule] : undefined;
    if (!check) continue;
    const [result = '', domain = ''] = r.match.split(' ');
    if (check.results.includes(result)) add(check.kind, domain.toLowerCase());
  }
  return out;
}
