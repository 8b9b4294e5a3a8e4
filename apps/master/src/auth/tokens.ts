import { randomBytes } from 'node:crypto';
import type { Db } from '@moat/storage';
import { newSecret, sameDigest, sha256Hex } from './secret-tokens.ts';
import type { User } from './users-repository.ts';

/**
 * API tokens for scripts and Prometheus: `moat_<id>_<secret>`. The id is public (it names the
 * token in lists and the audit log); the whole token is shown once, at creation, and only its
 * SHA-256 is kept. A token acts with its user's current role.
 */
export interface ApiToken {
  readonly id: string;
  readonly userId: number;
  readonly username: string;
  readonly name: string;
  readonly createdAt: number;
  readonly lastUsedAt: number | null;
  readonly revokedAt: number | null;
}

export interface TokenStore {
  /** Returns the record and the token itself, which is never available again. */
  create(userId: number, name: string): { token: string; record: ApiToken };
  /** The enabled user behind a valid, unrevoked token; records the use. */
  verify(token: string): { tokenId: string; user: User } | undefined;
  list(userId?: number): ApiToken[];
  findById(id: string): ApiToken | undefined;
  /** Marks the token revoked; false if it does not exist. Revoking twice is harmless. */
  revoke(id: string): boolean;
}

const TOKEN_FORMAT = /^moat_([a-f0-9]{16})_([A-Za-z0-9_-]{43})$/;
/** Writing last_used_at on every request would turn reads into writes; once a minute is plenty. */
const LAST_USED_RESOLUTION_MS = 60_000;

interface TokenRow {
  id: string;
  user_id: number;
  username: string;
  name: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

interface VerifyRow extends TokenRow {
  token_hash: string;
  role: User['role'];
  disabled: number;
  user_created_at: number;
}

const SELECT = `SELECT t.id, t.user_id, u.username, t.name, t.created_at, t.last_used_at, t.revoked_at
                  FROM api_tokens t JOIN users u ON u.id = t.user_id`;

export function createTokenStore(db: Db, now: () => number): TokenStore {
  const insert = db.prepare<[string, number, string, string, number]>(
    'INSERT INTO api_tokens (id, user_id, name, token_hash, created_at) VALUES (?, ?, ?, ?, ?)',
  );
  const forVerify = db.prepare<[string], VerifyRow>(
    `SELECT t.*, u.username, u.role, u.disabled, u.created_at AS user_created_at
       FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = ?`,
  );
  const touch = db.prepare<[number, string]>('UPDATE api_tokens SET last_used_at = ? WHERE id = ?');
  const byId = db.prepare<[string], TokenRow>(`${SELECT} WHERE t.id = ?`);
  const all = db.prepare<[], TokenRow>(`${SELECT} ORDER BY t.created_at DESC, t.id`);
  const ofUser = db.prepare<[number], TokenRow>(`${SELECT} WHERE t.user_id = ? ORDER BY t.created_at DESC, t.id`);
  const revoke = db.prepare<[number, string]>('UPDATE api_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?');

  return {
    create(userId, name) {
      const id = randomBytes(8).toString('hex');
      const token = `moat_${id}_${newSecret()}`;
      insert.run(id, userId, name, sha256Hex(token), now());
      return { token, record: toToken(byId.get(id) as TokenRow) };
    },
    verify(token) {
      const m = TOKEN_FORMAT.exec(token);
      if (!m) return undefined;
      const row = forVerify.get(m[1] ?? '');
      if (!row || !sameDigest(sha256Hex(token), row.token_hash)) return undefined;
      if (row.revoked_at !== null || row.disabled === 1) return undefined;
      const at = now();
      if (row.last_used_at === null || at - row.last_used_at >= LAST_USED_RESOLUTION_MS) touch.run(at, row.id);
      return { tokenId: row.id, user: { id: row.user_id, username: row.username, role: row.role, disabled: false, createdAt: row.user_created_at } };
    },
    list: (userId) => (userId === undefined ? all.all() : ofUser.all(userId)).map(toToken),
    findById(id) {
      const row = byId.get(id);
      return row === undefined ? undefined : toToken(row);
    },
    revoke: (id) => revoke.run(now(), id).changes > 0,
  };
}

function toToken(row: TokenRow): ApiToken {
  return {
    id: row.id,
    userId: row.user_id,
    username: row.username,
    name: row.name,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}
