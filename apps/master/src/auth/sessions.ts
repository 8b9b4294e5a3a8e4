import type { Kysely } from 'kysely';
import type { MasterSchema } from '../db/schema.ts';
import { newSecret, sha256Hex } from './secret-tokens.ts';
import type { User } from './users-repository.ts';

/**
 * Console sessions. The browser holds the random token (in the `moat_session` cookie); the
 * database holds only its SHA-256 as the session id. Expiry is absolute (no sliding renewal):
 * after `sessionHours` the user signs in again.
 */
export interface SessionStore {
  create(userId: number, ip: string, userAgent: string): Promise<{ token: string; expiresAt: number }>;
  /** The signed-in, enabled user behind a token, if the session exists and has not expired. */
  lookup(token: string): Promise<{ sessionId: string; user: User } | undefined>;
  revoke(token: string): Promise<void>;
  /** End every session of a user (password reset, disable), except optionally one. */
  revokeAllForUser(userId: number, exceptToken?: string): Promise<number>;
  /** Delete expired sessions; returns how many. */
  sweep(): Promise<number>;
}

export function createSessionStore(db: Kysely<MasterSchema>, now: () => number, sessionHours: number): SessionStore {
  const deleted = (r: { numDeletedRows: bigint }) => Number(r.numDeletedRows);
  return {
    async create(userId, ip, userAgent) {
      const token = newSecret();
      const createdAt = now();
      const expiresAt = createdAt + Math.round(sessionHours * 3_600_000);
      await db.insertInto('sessions').values({ id: sha256Hex(token), user_id: userId, created_at: createdAt, expires_at: expiresAt, ip, user_agent: userAgent.slice(0, 256) }).execute();
      return { token, expiresAt };
    },
    async lookup(token) {
      const row = await db
        .selectFrom('sessions as s')
        .innerJoin('users as u', 'u.id', 's.user_id')
        .select(['s.id', 's.user_id', 'u.username', 'u.role', 'u.disabled', 'u.created_at as user_created_at'])
        .where('s.id', '=', sha256Hex(token))
        .where('s.expires_at', '>', now())
        .executeTakeFirst();
      if (!row || row.disabled === 1) return undefined;
      return {
        sessionId: row.id,
        user: { id: row.user_id, username: row.username, role: row.role, disabled: false, createdAt: row.user_created_at },
      };
    },
    async revoke(token) {
      await db.deleteFrom('sessions').where('id', '=', sha256Hex(token)).execute();
    },
    revokeAllForUser: async (userId, exceptToken) =>
      deleted(await db.deleteFrom('sessions').where('user_id', '=', userId).where('id', '<>', exceptToken === undefined ? '' : sha256Hex(exceptToken)).executeTakeFirst()),
    sweep: async () => deleted(await db.deleteFrom('sessions').where('expires_at', '<=', now()).executeTakeFirst()),
  };
}
