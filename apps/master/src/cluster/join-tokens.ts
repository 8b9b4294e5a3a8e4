import type { Db } from '@moat/storage';
import { joinTokenHash, newJoinToken } from '@moat/protocol';

/** A join token's life: an hour unless the admin says otherwise, at most a week. */
export const JOIN_TOKEN_DEFAULT_TTL_SECONDS = 3600;
export const JOIN_TOKEN_MAX_TTL_SECONDS = 7 * 24 * 3600;

export interface MintedJoinToken {
  /** The token itself: shown once, never stored (the master keeps its SHA-256). */
  readonly token: string;
  readonly nodeName: string;
  readonly expiresAt: number;
  readonly replace: boolean;
}

export type MintOutcome = { readonly ok: true; readonly minted: MintedJoinToken } | { readonly ok: false; readonly code: 'MOAT_ERR_NODE_EXISTS'; readonly message: string };

/** Why a token did not admit a node (logged and sent to it as MOAT_ERR_JOIN_REFUSED). */
export type Redemption =
  | { readonly ok: true; readonly replace: boolean }
  | { readonly ok: false; readonly reason: string };

interface TokenRow {
  node_name: string;
  replace_key: number;
  expires_at: number;
  used_at: number | null;
}

/**
 * One-time join tokens (docs/cluster.md, "Joining"): made by an admin for one node name, valid
 * until they expire or are used once. A token that would replace the key of a node that is in
 * the cluster now must say so (`replace`): an existing node's key changes only by an admin's
 * explicit action, never because somebody holding a secret asked.
 */
export function createJoinTokens(db: Db) {
  const insert = db.prepare('INSERT INTO join_tokens (token_hash, node_name, replace_key, created_at, expires_at, created_by) VALUES (?, ?, ?, ?, ?, ?)');
  const byHash = db.prepare<[string], TokenRow>('SELECT node_name, replace_key, expires_at, used_at FROM join_tokens WHERE token_hash = ?');
  const markUsed = db.prepare('UPDATE join_tokens SET used_at = ?, used_by_node = ? WHERE token_hash = ? AND used_at IS NULL');
  const activeNode = db.prepare<[string], { id: string }>('SELECT id FROM nodes WHERE name = ? AND removed_at IS NULL');
  // Expired tokens are of no use to anyone; used ones are kept a day for the record (the audit log has the rest).
  const prune = db.prepare('DELETE FROM join_tokens WHERE expires_at < ? OR used_at < ?');

  return {
    mint(nodeName: string, opts: { ttlSeconds: number; replace: boolean; createdBy: string; now: number }): MintOutcome {
      if (!opts.replace && activeNode.get(nodeName)) {
        return { ok: false, code: 'MOAT_ERR_NODE_EXISTS', message: `node ${nodeName} is in the cluster: a token for it would replace its key; pass replace: true to do that, or remove the node first` };
      }
      const token = newJoinToken();
      const expiresAt = opts.now + Math.min(opts.ttlSeconds, JOIN_TOKEN_MAX_TTL_SECONDS) * 1000;
      db.transaction(() => {
        prune.run(opts.now, opts.now - 86_400_000);
        insert.run(joinTokenHash(token), nodeName, opts.replace ? 1 : 0, opts.now, expiresAt, opts.createdBy);
      })();
      return { ok: true, minted: { token, nodeName, expiresAt, replace: opts.replace } };
    },
    /**
     * Use a token for `nodeName`, once. Checked and marked in one synchronous step, so two hellos
     * racing with the same token cannot both pass. Nothing is marked when the join is refused.
     */
    redeem(token: string, nodeName: string, now: number): Redemption {
      const row = byHash.get(joinTokenHash(token));
      if (!row) return { ok: false, reason: 'unknown join token' };
      if (row.used_at !== null) return { ok: false, reason: 'join token already used' };
      if (row.expires_at <= now) return { ok: false, reason: 'join token expired' };
      if (row.node_name !== nodeName) return { ok: false, reason: `join token is for another node name than ${nodeName}` };
      if (row.replace_key === 0 && activeNode.get(nodeName)) return { ok: false, reason: `node ${nodeName} is in the cluster and the token was not made to replace its key` };
      markUsed.run(now, nodeName, joinTokenHash(token));
      return { ok: true, replace: row.replace_key === 1 };
    },
  };
}
export type JoinTokens = ReturnType<typeof createJoinTokens>;
