import { globToRegExp, hasWildcard } from './glob.ts';

/**
 * Address and domain patterns (see `Pattern` in schema.ts):
 * - with an `@`, the local part and the domain are matched separately (`*@example.com`, `user@*`);
 * - without one, the pattern is a domain pattern and matches the address's domain
 *   (`example.com` is that domain only, `*.example.com` its subdomains only).
 * Exact patterns are hash lookups; only wildcard patterns cost a RegExp test each.
 */

/** Returns the pattern that matched, or undefined. */
export type AddressMatcher = (address: string) => string | undefined;

export interface SplitAddress {
  readonly local: string;
  readonly domain: string;
}

/** Split on the last `@` (a quoted local part may hold one); lower-case; drop a root dot. */
export function splitAddress(address: string): SplitAddress {
  const at = address.lastIndexOf('@');
  const local = at === -1 ? address : address.slice(0, at);
  const domain = at === -1 ? '' : address.slice(at + 1);
  return { local: local.toLowerCase(), domain: normalizeDomain(domain) };
}

export function normalizeDomain(domain: string): string {
  return domain.toLowerCase().replace(/\.$/, '');
}

/** What is wrong with a pattern, or undefined. `domainOnly` forbids the `@` form. */
export function patternProblem(pattern: string, domainOnly = false): string | undefined {
  if (/[\s<>]/.test(pattern)) return 'must not contain spaces or angle brackets';
  const at = pattern.lastIndexOf('@');
  if (at === -1) return undefined;
  if (domainOnly) return 'must be a domain, without @';
  if (pattern.indexOf('@') !== at) return 'must contain at most one @';
  if (at === 0 || at === pattern.length - 1) return 'needs text on both sides of @ (use * for any)';
  return undefined;
}

/** Compile a validated list of address and domain patterns once. */
export function compileAddressList(patterns: readonly string[]): AddressMatcher {
  const domains = compileDomainList(patterns.filter((p) => !p.includes('@')));
  const exact = new Map<string, string>();
  const wild: { local: RegExp; domain: RegExp; pattern: string }[] = [];
  for (const pattern of patterns) {
    if (!pattern.includes('@')) continue;
    if (!hasWildcard(pattern)) {
      const { local, domain } = splitAddress(pattern);
      exact.set(`${local}@${domain}`, pattern);
      continue;
    }
    const at = pattern.lastIndexOf('@');
    wild.push({ local: globToRegExp(pattern.slice(0, at)), domain: globToRegExp(normalizeDomain(pattern.slice(at + 1))), pattern });
  }
  return (address) => {
    // The null sender has neither a local part nor a domain; no pattern names it.
    if (address === '') return undefined;
    const { local, domain } = splitAddress(address);
    const hit = exact.get(`${local}@${domain}`) ?? domains(domain);
    if (hit !== undefined) return hit;
    return wild.find((w) => w.local.test(local) && w.domain.test(domain))?.pattern;
  };
}

/** Compile domain patterns; the matcher takes a bare domain. */
export function compileDomainList(patterns: readonly string[]): AddressMatcher {
  const exact = new Map<string, string>();
  const wild: { regex: RegExp; pattern: string }[] = [];
  for (const pattern of patterns) {
    const domain = normalizeDomain(pattern);
    if (hasWildcard(domain)) wild.push({ regex: globToRegExp(domain), pattern });
    else exact.set(domain, pattern);
  }
  return (input) => {
    const domain = normalizeDomain(input);
    return exact.get(domain) ?? wild.find((w) => w.regex.test(domain))?.pattern;
  };
}
