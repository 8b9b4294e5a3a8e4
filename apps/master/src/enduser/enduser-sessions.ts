import type { Kysely } from 'kysely';
import { newSecret, sha256Hex } from '../auth/secret-tokens.ts';
import type { MasterSchema } from '../db/schema.ts';

/** The end user's cookie: HttpOnly, SameSite=Strict, only sent to /user. */
export const ENDUSER_COOKIE = 'moat_enduser';

/**
 * Sessions a followed digest link opens: scoped to one recipient address, short-lived
 * (absolute expiry), unrelated to console accounts. The database holds only the token's hash;
 * `csrf` is a second random value the pages put in every form.
 */
export function createEnduserSessions(db: Kysely<MasterSchema>, now: () => number) {
  return {
    async create(recipient: string, minutes: number): Promise<{ token: string; expiresAt: number }> {
      await db.deleteFrom('enduser_sessions').where('expires_at', '<=', now()).execute();
      const token = newSecret();
      const expiresAt = now() + minutes * 60_000;
      await db.insertInto('enduser_sessions').values({ id: sha256Hex(token), recipient, csrf: newSecret(18), created_at: now(), expires_at: expiresAt }).execute();
      return { token, expiresAt };
    },
    lookup: (token: string): Promise<{ recipient: string; csrf: string } | undefined> =>
      db.selectFrom('enduser_sessions').select(['recipient', 'csrf']).where('id', '=', sha256Hex(token)).where('expires_at', '>', now()).executeTakeFirst(),
    async revoke(token: string): Promise<void> {
      await db.deleteFrom('enduser_sessions').where('id', '=', sha256Hex(token)).execute();
    },
  };
}
export type EnduserSessions = ReturnType<typeof createEnduserSessions>;
