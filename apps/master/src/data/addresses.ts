/**
 * How the master stores addresses for searching and counting: lower-cased (the local part is
 * case-sensitive only in theory; searches must not depend on how a sender typed it).
 */
export function normalizeAddress(address: string): string {
  return address.trim().toLowerCase();
}

/** The domain of an address ('' for the null sender `<>` or an address without @). */
export function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? '' : address.slice(at + 1);
}

/** Recipients normalised, duplicates removed, order kept (the first is shown in lists). */
export function uniqueRecipients(rcptTo: readonly string[]): string[] {
  return [...new Set(rcptTo.map(normalizeAddress))];
}
