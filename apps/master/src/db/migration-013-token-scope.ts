import type { Migration } from '@moat/storage';

/**
 * API tokens get a role of their own, an expiry and a parent (docs/security.md, "API tokens").
 * `role`: the most the token may do (it acts with the lower of this and its user's current
 * role); tokens from before get their user's role now. `expires_at`: tokens from before expire
 * 90 days after this migration. `parent_id`: the token a token was made with, so revoking a
 * token revokes what it made.
 */
export const TOKEN_SCOPE_MIGRATION: Migration = {
  version: 13,
  description: 'API token role, expiry and parent',
  sql: `
    ALTER TABLE api_tokens ADD COLUMN role TEXT NOT NULL DEFAULT 'auditor';
    ALTER TABLE api_tokens ADD COLUMN expires_at INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE api_tokens ADD COLUMN parent_id TEXT;
    UPDATE api_tokens SET role = (SELECT role FROM users WHERE users.id = api_tokens.user_id),
                          expires_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000 + 90 * 86400000;
    CREATE INDEX api_tokens_parent ON api_tokens (parent_id);
  `,
  postgres: `
    ALTER TABLE api_tokens ADD COLUMN role TEXT NOT NULL DEFAULT 'auditor';
    ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE api_tokens ADD COLUMN parent_id TEXT;
    UPDATE api_tokens SET role = (SELECT role FROM users WHERE users.id = api_tokens.user_id),
                          expires_at = CAST(extract(epoch FROM now()) AS BIGINT) * 1000 + 90 * 86400000::BIGINT;
    CREATE INDEX api_tokens_parent ON api_tokens (parent_id);
  `,
};
