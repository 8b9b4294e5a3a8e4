import { isIP } from 'node:net';
import type { FieldError } from '@moat/config';

/**
 * A plain `ws://` cluster link carries the hello, rule pushes, message log entries and
 * quarantined messages in clear, and lets anyone on the path act as the master. It is for
 * loopback (tests, `pnpm start`); anywhere else it is refused at start with an error naming
 * `master.url`, unless `master.allowInsecure: true` says the operator means it, and then it is
 * logged as a warning at every start (`LINK_INSECURE`).
 */
export interface PlaintextLinkCheck {
  /** Plain links to a non-loopback master while not allowed: the scanner must not start. */
  readonly errors: readonly FieldError[];
  /** Plain links to a non-loopback master that `allowInsecure` lets through: warn about each. */
  readonly insecure: readonly string[];
}

export function checkPlaintextLinks(master: { readonly url: string | readonly string[]; readonly allowInsecure?: boolean }): PlaintextLinkCheck {
  const urls = typeof master.url === 'string' ? [master.url] : master.url;
  const errors: FieldError[] = [];
  const insecure: string[] = [];
  urls.forEach((url, i) => {
    if (!/^ws:/i.test(url) || isLoopbackUrl(url)) return;
    if (master.allowInsecure === true) {
      insecure.push(url);
      return;
    }
    errors.push({
      key: typeof master.url === 'string' ? 'master.url' : `master.url.${i}`,
      message: `${url} is a plain ws:// link to a master that is not on loopback: use wss:// with master.fingerprint, or set master.allowInsecure: true to send the cluster's traffic in clear`,
    });
  });
  return { errors, insecure };
}

function isLoopbackUrl(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    return false;
  }
  host = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || /^::ffff:127\./.test(host) || /^::ffff:7f[0-9a-f]{2}:/.test(host);
  return false;
}
