import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Signed links in digests. A link carries its own authority (no session): what to do, to
 * which message on which node, for which recipient, until when; an HMAC-SHA256 under the
 * master's digest secret covers all of it. Changing any part, or signing with another key,
 * fails the check; after `expiresAt` it is refused even though the signature is good.
 */
export type LinkAction = 'release' | 'allow' | 'delete' | 'open';
export const LINK_ACTIONS: readonly LinkAction[] = ['release', 'allow', 'delete', 'open'];

export interface Link {
  readonly action: LinkAction;
  /** Empty for `open` (the recipient's page, no message). */
  readonly nodeId: string;
  readonly messageId: string;
  readonly recipient: string;
  /** Epoch ms. */
  readonly expiresAt: number;
}

export type LinkCheck = { readonly ok: true; readonly link: Link } | { readonly ok: false; readonly reason: 'malformed' | 'forged' | 'expired' };

const MAX_TOKEN = 1200;

export function signLink(secret: Buffer, link: Link): string {
  const payload = Buffer.from(JSON.stringify([link.action, link.nodeId, link.messageId, link.recipient, link.expiresAt]), 'utf8').toString('base64url');
  return `${payload}.${mac(secret, payload)}`;
}

export function verifyLink(secret: Buffer, token: string, now: number): LinkCheck {
  if (typeof token !== 'string' || token.length > MAX_TOKEN) return { ok: false, reason: 'malformed' };
  const m = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!m) return { ok: false, reason: 'malformed' };
  const [, payload, signature] = m as unknown as [string, string, string];
  const expected = Buffer.from(mac(secret, payload), 'base64url');
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'forged' };
  let fields: unknown;
  try {
    fields = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (!Array.isArray(fields) || fields.length !== 5) return { ok: false, reason: 'malformed' };
  const [action, nodeId, messageId, recipient, expiresAt] = fields as unknown[];
  if (!LINK_ACTIONS.includes(action as LinkAction) || typeof nodeId !== 'string' || typeof messageId !== 'string' || typeof recipient !== 'string' || typeof expiresAt !== 'number') {
    return { ok: false, reason: 'malformed' };
  }
  if (now >= expiresAt) return { ok: false, reason: 'expired' };
  return { ok: true, link: { action: action as LinkAction, nodeId, messageId, recipient, expiresAt } };
}

function mac(secret: Buffer, payload: string): string {
  return createHmac('sha256', secret).update(`moat-digest-link-v1.${payload}`).digest('base64url');
}
