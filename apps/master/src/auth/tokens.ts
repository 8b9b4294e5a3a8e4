import { randomBytes } from 'node:crypto';
import { sql, type Kysely, type Selectable } from 'kysely';
import type { ApiTokensTable, MasterSchema } from '../db/schema.ts';
import { newSecret, sameDigest, sha256Hex } from './secret-tokens.ts';
import { ROLE_RANK, type Role } from '../app-deps.ts';
import type { User } from './users-repository.ts';

/**
 * API tokens for scripts and Prometheus: `moat_<id>_<secret>`. The id is public (it names the
 * token in lists and the audit log); the whole token is shown once, at creation, and only its
 * SHA-256 is kept. A token has a role of its own and acts with the lower of it and its user's
 * current role; it expires; it dies with its user's password change or disabling, and with the
 * token it was made with (docs/security.md, "API tokens").
 */

/** Longest life of a token that can change things; an auditor (read-only) token may live longer, for scrapers. */
export const TOKEN_MAX_DAYS: Readonly<Record<Role, number>> = { auditor: 1825, operator: 90, admin: 90 };
export const TOKEN_DEFAULT_DAYS = 90;
export interface ApiToken {
  readonly id: string;
  readonly userId: number;
  readonly username: string;
  readonly name: string;
  /** The most this token may do (it acts with the lower of this and its user's current role). */
  readonly role: Role;
  readonly createdAt: number;
  readonly expiresAt: number;
  /** The token this one was made with, if any: revoking that one revokes this one. */
  readonly parentId: string | null;
  readonly lastUsedAt: number | null;
  readonly revokedAt: number | null;
}

export interface TokenStore {
  /** Returns the record and the token itself, which is never available again. */
  create(userId: number, name: string, scope: { role: Role; expiresAt: number; parentId?: string | undefined }): Promise<{ token: string; record: ApiToken }>;
  /** The enabled user behind a valid, unrevoked token; records the use. */
  verify(token: string): Promise<{ tokenId: string; user: User } | undefined>;
  list(userId?: number): Promise<ApiToken[]>;
  findById(id: string): Promise<ApiToken | undefined>;
  /** Marks the token revoked, and every token made with it; false if it does not exist. Revoking twice is harmless. */
  revoke(id: string): Promise<boolean>;
  /** A password change or a disabled user: every token of the user, and what they made, revoked. Returns how many. */
  revokeAllForUser(userId: number): Promise<number>;
}

const TOKEN_FORMAT = /^moat_([a-f0-9]{16})_([A-Za-z0-9_-]{43})$/;
/** Writing last_used_at on every request would turn reads into writes; once a minute is plenty. */
const LAST_USED_RESOLUTION_MS = 60_000;

const COLUMNS = ['t.id', 't.user_id', 'u.username', 't.name', 't.role', 't.created_at', 't.expires_at', 't.parent_id', 't.last_used_at', 't.revoked_at'] as const;

/** API tokens on either engine (`db` may be a transaction). */
export function createTokenStore(db: Kysely<MasterSchema>, now: () => number): TokenStore {
  const select = () => db.selectFrom('api_tokens as t').innerJoin('users as u', 'u.id', 't.user_id').select(COLUMNS);
  // A token and everything made with it, however deep (a revoked token cannot leave children behind).
  const revokeTree = async (q: Kysely<MasterSchema>, id: string, at: number) =>
    Number(
      (
        await sql<never>`WITH RECURSIVE tree(id) AS (SELECT ${id} UNION SELECT t.id FROM api_tokens t JOIN tree ON t.parent_id = tree.id)
          UPDATE api_tokens SET revoked_at = coalesce(revoked_at, ${at}) WHERE id IN (SELECT id FROM tree)`.execute(q)
      ).numAffectedRows ?? 0n,
    );
  return {
    async create(userId, name, scope) {
      const id = randomBytes(8).toString('hex');
      const token = `moat_${id}_${newSecret()}`;
      await db
        .insertInto('api_tokens')
        .values({ id, user_id: userId, name, token_hash: sha256Hex(token), role: scope.role, created_at: now(), expires_at: scope.expiresAt, parent_id: scope.parentId ?? null })
        .execute();
      return { token, record: toToken(await select().where('t.id', '=', id).executeTakeFirstOrThrow()) };
    },
    async verify(token) {
      const m = TOKEN_FORMAT.exec(token);
      if (!m) return undefined;
      const row = await db
        .selectFrom('api_tokens as t')
        .innerJoin('users as u', 'u.id', 't.user_id')
        .select([...COLUMNS, 't.token_hash', 'u.role as user_role', 'u.disabled', 'u.created_at as user_created_at'])
        .where('t.id', '=', m[1] ?? '')
        .executeTakeFirst();
      if (!row || !sameDigest(sha256Hex(token), row.token_hash)) return undefined;
      const at = now();
      if (row.revoked_at !== null || row.disabled === 1 || row.expires_at <= at) return undefined;
      if (row.last_used_at === null || at - row.last_used_at >= LAST_USED_RESOLUTION_MS) await db.updateTable('api_tokens').set({ last_used_at: at }).where('id', '=', row.id).execute();
      const role = ROLE_RANK[row.role] < ROLE_RANK[row.user_role] ? row.role : row.user_role;
      return { tokenId: row.id, user: { id: row.user_id, username: row.username, role, disabled: false, createdAt: row.user_created_at } };
    },
    async list(userId) {
      let q = select();
      if (userId !== undefined) q = q.where('t.user_id', '=', userId);
      return (await q.orderBy('t.created_at', 'desc').orderBy('t.id').execute()).map(toToken);
    },
    async findById(id) {
      const row = await select().where('t.id', '=', id).executeTakeFirst();
      return row === undefined ? undefined : toToken(row);
    },
    async revoke(id) {
      if (!(await db.selectFrom('api_tokens').select('id').where('id', '=', id).executeTakeFirst())) return false;
      await revokeTree(db, id, now());
      return true;
    },
    revokeAllForUser: (userId) =>
      db.transaction().execute(async (trx) => {
        let n = 0;
        for (const { id } of await trx.selectFrom('api_tokens').select('id').where('user_id', '=', userId).where('revoked_at', 'is', null).execute()) n += await revokeTree(trx, id, now());
        return n;
      }),
  };
}

type TokenRow = Pick<Selectable<ApiTokensTable>, 'id' | 'user_id' | 'name' | 'role' | 'created_at' | 'expires_at' | 'parent_id' | 'last_used_at' | 'revoked_at'> & { username: string };

function toToken(row: TokenRow): ApiToken {
  return {
    id: row.id,
    userId: row.user_id,
    username: row.username,
    name: row.name,
    role: row.role,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    parentId: row.parent_id,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}
