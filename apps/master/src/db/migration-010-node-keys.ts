import type { Migration } from '@moat/storage';

/**
 * Node key pairs and one-time join tokens (docs/security.md, "Joining"). Each node proves itself
 * with its own Ed25519 key: the master keeps only `public_key`. The HMAC credentials it used to
 * keep (`credential_hash`, which held the key itself) are erased: with them anyone who read
 * the database could pass for any node. Nodes that joined before re-join once with a join
 * token for their name (docs/operator-guide.md, "Upgrading to node keys").
 *
 * `join_tokens` holds only each token's SHA-256, the node name it is for, when it expires,
 * whether it may replace an existing node's key (an admin's explicit choice), and its use.
 */
export const NODE_KEYS_MIGRATION: Migration = {
  version: 10,
  description: 'node key pairs and join tokens',
  sql: `
    ALTER TABLE nodes ADD COLUMN public_key TEXT NOT NULL DEFAULT '';
    UPDATE nodes SET credential_hash = '';
    CREATE TABLE join_tokens (
      token_hash TEXT PRIMARY KEY,
      node_name TEXT NOT NULL,
      replace_key INTEGER NOT NULL DEFAULT 0,
      created_at INTEGER NOT NULL,
      expires_at INTEGER NOT NULL,
      created_by TEXT NOT NULL,
      used_at INTEGER,
      used_by_node TEXT
    );
    CREATE INDEX join_tokens_expiry ON join_tokens (expires_at);
  `,
  postgres: `
    ALTER TABLE nodes ADD COLUMN public_key TEXT NOT NULL DEFAULT '';
    UPDATE nodes SET credential_hash = '';
    CREATE TABLE join_tokens (
      token_hash TEXT PRIMARY KEY,
      node_name TEXT NOT NULL,
      replace_key INTEGER NOT NULL DEFAULT 0,
      created_at BIGINT NOT NULL,
      expires_at BIGINT NOT NULL,
      created_by TEXT NOT NULL,
      used_at BIGINT,
      used_by_node TEXT
    );
    CREATE INDEX join_tokens_expiry ON join_tokens (expires_at);
  `,
};
