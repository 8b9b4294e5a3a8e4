/**
 * A sender must not be able to hand downstream a verdict: mail servers and users' filters key
 * on `X-Spam-Flag`, `X-Spam-Status`, `X-Spam` and on our own `X-Moat-Verdict`. Such fields in
 * the *received* message are renamed, as forged Authentication-Results are
 * (`forged-auth-results.ts`), never deleted, so an admin can still see what was claimed. Ours
 * are prepended at relay time and never pass through here.
 *
 * One scheme for every renamed field: `X-Moat-Untrusted-` and the name without its `X-`
 * (`X-Spam-Flag` → `X-Moat-Untrusted-Spam-Flag`, `X-Moat-Verdict` → `X-Moat-Untrusted-Moat-Verdict`,
 * `Authentication-Results` → `X-Moat-Untrusted-Authentication-Results`). A renamed name never
 * starts with `X-Spam` and is never one Moat writes; a received `X-Moat-Untrusted-*` field is
 * already marked and is left as it is (so mail through two gateways is not renamed twice).
 */
export const UNTRUSTED_PREFIX = 'X-Moat-Untrusted-';

/**
 * Verdict fields: `X-Spam` and `X-Spam-*` (SpamAssassin, Rspamd's milter), `X-Spamd-*` (Rspamd)
 * and `X-Moat-*` (ours). A field name is printable ASCII up to the colon (RFC 5322 ftext).
 */
const VERDICT_FIELD = /^(x-(?:spamd?(?:-[!-9;-~]*)?|moat-[!-9;-~]*))(?=[ \t]*:)/gim;

/** The name a received field is renamed to. */
export function untrustedName(name: string): string {
  return UNTRUSTED_PREFIX + (/^x-/i.test(name) ? name.slice(2) : name);
}

/**
 * The header block with every received verdict field renamed. Only names at the start of a line
 * change (a folded continuation starts with white space, so text inside a value is never taken
 * for a field); every other byte stays. `block` is latin1 text (bytes as characters).
 */
export function renameForgedVerdicts(block: string): { block: string; renamed: number } {
  let renamed = 0;
  const out = block.replace(VERDICT_FIELD, (name: string) => {
    if (name.toLowerCase().startsWith(UNTRUSTED_PREFIX.toLowerCase())) return name;
    renamed++;
    return untrustedName(name);
  });
  return { block: out, renamed };
}
