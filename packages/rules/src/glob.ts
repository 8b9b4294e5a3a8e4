/**
 * Compile a `*`/`?` wildcard pattern to an anchored, case-insensitive RegExp.
 *
 * The obvious translation (`*` → `.*`) backtracks polynomially: `*a*a*a*b` against a long run
 * of `a` tries every split. Patterns are admin-written but the text is the sender's, so each
 * literal segment between stars is instead found at its first occurrence inside a lookahead and
 * consumed by a backreference. Lookaheads are atomic in JavaScript, so nothing is retried and
 * matching stays O(text × pattern). Taking the first occurrence loses no match, because the
 * next star can absorb whatever the first occurrence leaves over.
 */
export function globToRegExp(glob: string): RegExp {
  const segments = glob.split(/\*+/).map(segmentSource);
  const first = segments[0] ?? '';
  if (segments.length === 1) return new RegExp(`^${first}$`, 'i');
  const last = segments[segments.length - 1] ?? '';
  const middle = segments.slice(1, -1).map((segment, i) => `(?=([\\s\\S]*?${segment}))\\${i + 1}`);
  return new RegExp(`^${first}${middle.join('')}[\\s\\S]*${last}$`, 'i');
}

/** True when the pattern has a wildcard, i.e. cannot be looked up as an exact string. */
export function hasWildcard(glob: string): boolean {
  return glob.includes('*') || glob.includes('?');
}

function segmentSource(segment: string): string {
  return segment.replace(/[.+^${}()|[\]\\/-]/g, '\\$&').replace(/\?/g, '[\\s\\S]');
}
