import type { Db } from '@moat/storage';
import { newSecret, sha256Hex } from '../auth/secret-tokens.ts';

/** The end user's cookie: HttpOnly, SameSite=Strict, only sent to /user. */
export const ENDUSER_COOKIE = 'moat_enduser';

/**
 * Sessions a followed digest link opens: scoped to one recipient address, short-lived
 * (absolute expiry), unrelated to console accounts. The database holds only the token's hash;
 * `csrf` is a second random value the pages put in every form.
 */
export function createEnduserSessions(db: Db, now: () => number) {
  const insert = db.prepare('INSERT INTO enduser_sessions (id, recipient, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)');
  const find = db.prepare<[string, number], { recipient: string; csrf: string }>('SELECT recipient, csrf FROM enduser_sessions WHERE id = ? AND expires_at > ?');
  const del = db.prepare('DELETE FROM enduser_sessions WHERE id = ?');
  const sweep = db.prepare('DELETE FROM enduser_sessions WHERE expires_at <= ?');
  return {
    create(recipient: string, minutes: number): { token: string; expiresAt: number } {
      sweep.run(now());
      const token = newSecret();
      const expiresAt = now() + minutes * 60_000;
      insert.run(sha256Hex(token), recipient, newSecret(18), now(), expiresAt);
      return { token, expiresAt };
    },
    lookup: (token: string): { recipient: string; csrf: string } | undefined => find.get(sha256Hex(token), now()),
    revoke: (token: string): void => void del.run(sha256Hex(token)),
  };
}
export type EnduserSessions = ReturnType<typeof createEnduserSessions>;
