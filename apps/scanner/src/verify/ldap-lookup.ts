import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { Client, SizeLimitExceededError } from 'ldapts';
import type { LdapSource } from '@moat/protocol';

/** Found (with the DN that matched), not found, or the directory could not answer (the caller defers). */
export type LdapOutcome =
  | { readonly found: true; readonly dn: string }
  | { readonly found: false }
  | { readonly unavailable: string };

/**
 * One LDAP (or Active Directory) lookup: connect (LDAPS, or StartTLS when asked), bind, search
 * the subtree for the filter with the address in it, unbind. A fresh connection per lookup keeps
 * it simple and survives a domain controller's restart; the RCPT-time cost is measured by
 * `pnpm bench:rcpt` (test/bench/results/rcpt.md). Every step is bounded by `timeoutMs`; any failure is `unavailable` (a
 * 451 4.4.3 by default), never "not found". The bind password never reaches an error text.
 */
export async function ldapLookup(source: LdapSource, address: string, timeoutMs: number): Promise<LdapOutcome> {
  const at = address.lastIndexOf('@');
  const filter = source.filter
    .replaceAll('{address}', escapeFilterValue(address))
    .replaceAll('{local}', escapeFilterValue(address.slice(0, at)))
    .replaceAll('{domain}', escapeFilterValue(address.slice(at + 1)));
  const tlsOptions = { rejectUnauthorized: source.rejectUnauthorized, ...(source.ca ? { ca: source.ca } : {}) };
  // ldapts speaks TLS from the start whenever it is given tlsOptions: only for ldaps:// (StartTLS takes them later).
  const client = new Client({ url: source.url, timeout: timeoutMs, connectTimeout: timeoutMs, strictDN: false, ...(source.url.startsWith('ldaps:') ? { tlsOptions } : {}) });
  const deadline = new Promise<never>((_, reject) => {
    const t = setTimeout(() => reject(new Error(`the directory did not answer within ${timeoutMs} ms`)), timeoutMs);
    t.unref();
  });
  try {
    return await Promise.race([deadline, (async (): Promise<LdapOutcome> => {
      if (source.startTls) await client.startTLS(startTlsOptions(source.url, tlsOptions));
      if (source.bindDn !== '') await client.bind(source.bindDn, source.bindPassword);
      try {
        const { searchEntries } = await client.search(source.baseDn, { scope: 'sub', filter, attributes: ['1.1'], sizeLimit: 1 });
        return searchEntries.length > 0 ? { found: true, dn: searchEntries[0]!.dn } : { found: false };
      } catch (err) {
        // More than one entry matched: the address exists (twice, which is the directory's business).
        if (err instanceof SizeLimitExceededError) return { found: true, dn: '(several entries)' };
        throw err;
      }
    })()]);
  } catch (err) {
    return { unavailable: describe(err, source.bindPassword) };
  } finally {
    void client.unbind().catch(() => undefined);
  }
}

/**
 * StartTLS upgrades the open socket, and Node's tls.connect checks the certificate against
 * `servername`, else `host`, else "localhost": ldapts passes neither, so a directory's
 * certificate would be checked for localhost, not for its own name. The URL's host is the
 * name to check (and the SNI, unless it is an address, which SNI never carries).
 */
function startTlsOptions(url: string, tlsOptions: { rejectUnauthorized: boolean; ca?: string }): ConnectionOptions {
  const host = new URL(url).hostname.replace(/^\[(.*)\]$/, '$1');
  return { ...tlsOptions, host, ...(isIP(host) ? {} : { servername: host }) };
}

/** RFC 4515 §3: `*`, `(`, `)`, `\` and NUL are escaped as `\XX` inside an assertion value. */
export function escapeFilterValue(value: string): string {
  return value.replace(/[*()\\\u0000]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function describe(err: unknown, secret: string): string {
  const e = err as { name?: string; message?: string; code?: unknown };
  let text = `${e.name ?? 'Error'}: ${e.message ?? String(err)}`.slice(0, 300);
  if (secret !== '') text = text.replaceAll(secret, '[redacted]');
  return text;
}
