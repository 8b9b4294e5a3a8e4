import { randomBytes } from 'node:crypto';
import type { Db } from '@moat/storage';
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
  create(userId: number, name: string, scope: { role: Role; expiresAt: number; parentId?: string | undefined }): { token: string; record: ApiToken };
  /** The enabled user behind a valid, unrevoked token; records the use. */
  verify(token: string): { tokenId: string; user: User } | undefined;
  list(userId?: number): ApiToken[];
  findById(id: string): ApiToken | undefined;
  /** Marks the token revoked, and every token made with it; false if it does not exist. Revoking twice is harmless. */
  revoke(id: string): boolean;
  /** A password change or a disabled user: every token of the user, and what they made, revoked. Returns how many. */
  revokeAllForUser(userId: number): number;
}

const TOKEN_FORMAT = /^moat_([a-f0-9]{16})_([A-Za-z0-9_-]{43})$/;
/** Writing last_used_at on every request would turn reads into writes; once a minute is plenty. */
const LAST_USED_RESOLUTION_MS = 60_000;

interface TokenRow {
  id: string;
  user_id: number;
  username: string;
  name: string;
  role: Role;
  created_at: number;
  expires_at: number;
  parent_id: string | null;
  last_used_at: number | null;
  revoked_at: number | null;
}

interface VerifyRow extends TokenRow {
  token_hash: string;
  user_role: User['role'];
  disabled: number;
  user_created_at: number;
}

const SELECT = `SELECT t.id, t.user_id, u.username, t.name, t.role, t.created_at, t.expires_at, t.parent_id, t.last_used_at, t.revoked_at
                  FROM api_tokens t JOIN users u ON u.id = t.user_id`;

export function createTokenStore(db: Db, now: () => number): TokenStore {
  const insert = db.prepare<[string, number, string, string, string, number, number, string | null]>(
    'INSERT INTO api_tokens (id, user_id, name, token_hash, role, created_at, expires_at, parent_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const forVerify = db.prepare<[string], VerifyRow>(
    `SELECT t.*, u.username, u.role AS user_role, u.disabled, u.created_at AS user_created_at
       FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = ?`,
  );
  const touch = db.prepare<[number, string]>('UPDATE api_tokens SET last_used_at = ? WHERE id = ?');
  const byId = db.prepare<[string], TokenRow>(`${SELECT} WHERE t.id = ?`);
  const all = db.prepare<[], TokenRow>(`${SELECT} ORDER BY t.created_at DESC, t.id`);
  const ofUser = db.prepare<[number], TokenRow>(`${SELECT} WHERE t.user_id = ? ORDER BY t.created_at DESC, t.id`);
  // A token and everything made with it, however deep (a revoked token cannot leave children behind).
  const revokeTree = db.prepare<[string, number]>(
    `WITH RECURSIVE tree(id) AS (SELECT ? UNION SELECT t.id FROM api_tokens t JOIN tree ON t.parent_id = tree.id)
     UPDATE api_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id IN (SELECT id FROM tree)`,
  );
  const exists = db.prepare<[string], { id: string }>('SELECT id FROM api_tokens WHERE id = ?');
  const idsOfUser = db.prepare<[number], { id: string }>('SELECT id FROM api_tokens WHERE user_id = ? AND revoked_at IS NULL');

  return {
    create(userId, name, scope) {
      const id = randomBytes(8).toString('hex');
      const token = `moat_${id}_${newSecret()}`;
      insert.run(id, userId, name, sha256Hex(token), scope.role, now(), scope.expiresAt, scope.parentId ?? null);
      return { token, record: toToken(byId.get(id) as TokenRow) };
    },
    verify(token) {
      const m = TOKEN_FORMAT.exec(token);
      if (!m) return undefined;
      const row = forVerify.get(m[1] ?? '');
      if (!row || !sameDigest(sha256Hex(token), row.token_hash)) return undefined;
      const at = now();
      if (row.revoked_at !== null || row.disabled === 1 || row.expires_at <= at) return undefined;
      if (row.last_used_at === null || at - row.last_used_at >= LAST_USED_RESOLUTION_MS) touch.run(at, row.id);
      const role = ROLE_RANK[row.role] < ROLE_RANK[row.user_role] ? row.role : row.user_role;
      return { tokenId: row.id, user: { id: row.user_id, username: row.username, role, disabled: false, createdAt: row.user_created_at } };
    },
    list: (userId) => (userId === undefined ? all.all() : ofUser.all(userId)).map(toToken),
    findById(id) {
      const row = byId.get(id);
      return row === undefined ? undefined : toToken(row);
    },
    revoke: (id) => {
      if (!exists.get(id)) return false;
      revokeTree.run(id, now());
      return true;
    },
    revokeAllForUser: db.transaction((userId: number) => {
      let n = 0;
      for (const { id } of idsOfUser.all(userId)) n += revokeTree.run(id, now()).changes;
      return n;
    }),
  };
}

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
