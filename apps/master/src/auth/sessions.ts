import type { Db } from '@moat/storage';
import { newSecret, sha256Hex } from './secret-tokens.ts';
import type { User } from './users-repository.ts';

/**
 * Console sessions. The browser holds the random token (in the `moat_session` cookie); the
 * database holds only its SHA-256 as the session id. Expiry is absolute (no sliding renewal):
 * after `sessionHours` the user signs in again.
 */
export interface SessionStore {
  create(userId: number, ip: string, userAgent: string): { token: string; expiresAt: number };
  /** The signed-in, enabled user behind a token, if the session exists and has not expired. */
  lookup(token: string): { sessionId: string; user: User } | undefined;
  revoke(token: string): void;
  /** End every session of a user (password reset, disable), except optionally one. */
  revokeAllForUser(userId: number, exceptToken?: string): number;
  /** Delete expired sessions; returns how many. */
  sweep(): number;
}

interface Row {
  id: string;
  user_id: number;
  username: string;
  role: User['role'];
  disabled: number;
  user_created_at: number;
}

export function createSessionStore(db: Db, now: () => number, sessionHours: number): SessionStore {
  const insert = db.prepare<[string, number, number, number, string, string]>(
    'INSERT INTO sessions (id, user_id, created_at, expires_at, ip, user_agent) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const find = db.prepare<[string, number], Row>(
    `SELECT s.id, s.user_id, u.username, u.role, u.disabled, u.created_at AS user_created_at
       FROM sessions s JOIN users u ON u.id = s.user_id
      WHERE s.id = ? AND s.expires_at > ?`,
  );
  const del = db.prepare<[string]>('DELETE FROM sessions WHERE id = ?');
  const delUser = db.prepare<[number, string]>('DELETE FROM sessions WHERE user_id = ? AND id <> ?');
  const delExpired = db.prepare<[number]>('DELETE FROM sessions WHERE expires_at <= ?');

  return {
    create(userId, ip, userAgent) {
      const token = newSecret();
      const createdAt = now();
      const expiresAt = createdAt + Math.round(sessionHours * 3_600_000);
      insert.run(sha256Hex(token), userId, createdAt, expiresAt, ip, userAgent.slice(0, 256));
      return { token, expiresAt };
    },
    lookup(token) {
      const row = find.get(sha256Hex(token), now());
      if (!row || row.disabled === 1) return undefined;
      return {
        sessionId: row.id,
        user: { id: row.user_id, username: row.username, role: row.role, disabled: false, createdAt: row.user_created_at },
      };
    },
    revoke: (token) => void del.run(sha256Hex(token)),
    revokeAllForUser: (userId, exceptToken) => delUser.run(userId, exceptToken === undefined ? '' : sha256Hex(exceptToken)).changes,
    sweep: () => delExpired.run(now()).changes,
  };
}
