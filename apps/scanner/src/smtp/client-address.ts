/** `::ffff:192.0.2.1` → `192.0.2.1`, so lists, limits and logs see one form per client. */
export function normalizeClientIp(address: string | undefined): string {
  if (!address) return '';
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return mapped?.[1] ?? address.toLowerCase();
}
