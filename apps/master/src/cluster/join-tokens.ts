import type { Kysely } from 'kysely';
import { joinTokenHash, newJoinToken } from '@moat/protocol';
import type { MasterSchema } from '../db/schema.ts';

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

export interface JoinTokens {
  mint(nodeName: string, opts: { ttlSeconds: number; replace: boolean; createdBy: string; now: number }): Promise<MintOutcome>;
  /**
   * Use a token for `nodeName`, once. Checked and marked in one statement (an UPDATE whose WHERE
   * is every condition), so two hellos racing with the same token, through one master or
   * several, cannot both pass. Nothing is marked when the join is refused.
   */
  redeem(token: string, nodeName: string, now: number): Promise<Redemption>;
}

/**
 * One-time join tokens (docs/cluster.md, "Joining"): made by an admin for one node name, valid
 * until they expire or are used once. A token that would replace the key of a node that is in
 * the cluster now must say so (`replace`): an existing node's key changes only by an admin's
 * explicit action, never because somebody holding a secret asked. `db` may be a transaction
 * (the hub redeems and stores the node's key in one).
 */
export function createJoinTokens(db: Kysely<MasterSchema>): JoinTokens {
  const activeNode = async (name: string) => (await db.selectFrom('nodes').select('id').where('name', '=', name).where('removed_at', 'is', null).executeTakeFirst()) !== undefined;

  return {
    async mint(nodeName, opts) {
      if (!opts.replace && (await activeNode(nodeName))) {
        return { ok: false, code: 'MOAT_ERR_NODE_EXISTS', message: `node ${nodeName} is in the cluster: a token for it would replace its key; pass replace: true to do that, or remove the node first` };
      }
      const token = newJoinToken();
      const expiresAt = opts.now + Math.min(opts.ttlSeconds, JOIN_TOKEN_MAX_TTL_SECONDS) * 1000;
      await db.transaction().execute(async (trx) => {
        // Expired tokens are of no use to anyone; used ones are kept a day for the record (the audit log has the rest).
        await trx.deleteFrom('join_tokens').where((eb) => eb.or([eb('expires_at', '<', opts.now), eb('used_at', '<', opts.now - 86_400_000)])).execute();
        await trx.insertInto('join_tokens').values({ token_hash: joinTokenHash(token), node_name: nodeName, replace_key: opts.replace ? 1 : 0, created_at: opts.now, expires_at: expiresAt, created_by: opts.createdBy, used_at: null, used_by_node: null }).execute();
      });
      return { ok: true, minted: { token, nodeName, expiresAt, replace: opts.replace } };
    },
    async redeem(token, nodeName, now) {
      const hash = joinTokenHash(token);
      const used = await db
        .updateTable('join_tokens')
        .set({ used_at: now, used_by_node: nodeName })
        .where('token_hash', '=', hash)
        .where('used_at', 'is', null)
        .where('expires_at', '>', now)
        .where('node_name', '=', nodeName)
        .where((eb) => eb.or([eb('replace_key', '=', 1), eb.not(eb.exists(eb.selectFrom('nodes').select('id').where('name', '=', nodeName).where('removed_at', 'is', null)))]))
        .returning('replace_key')
        .executeTakeFirst();
      if (used) return { ok: true, replace: used.replace_key === 1 };
      // Refused: read the token only to say why.
      const row = await db.selectFrom('join_tokens').select(['node_name', 'expires_at', 'used_at']).where('token_hash', '=', hash).executeTakeFirst();
      if (!row) return { ok: false, reason: 'unknown join token' };
      if (row.used_at !== null) return { ok: false, reason: 'join token already used' };
      if (row.expires_at <= now) return { ok: false, reason: 'join token expired' };
      if (row.node_name !== nodeName) return { ok: false, reason: `join token is for another node name than ${nodeName}` };
      return { ok: false, reason: `node ${nodeName} is in the cluster and the token was not made to replace its key` };
    },
  };
}
