import type { Migration } from '@moat/storage';

/**
 * Recipient verification (issue 19). `verification_sources`: the static recipient lists and
 * the LDAP / Active Directory directories (with their bind passwords), kept apart from the
 * rules: the rules history is pushed and never pruned, and must hold no credential and no
 * address book. `callout_cache`: what call-out probes found, shared by every scanner as the
 * greylist is (rows past `expires_at` are swept).
 */
export const VERIFICATION_MIGRATION: Migration = {
  version: 16,
  description: 'recipient verification store and call-out cache',
  sql: `
    CREATE TABLE verification_sources (
      name TEXT PRIMARY KEY,
      kind TEXT NOT NULL,
      settings TEXT NOT NULL,
      updated_at INTEGER NOT NULL,
      updated_by TEXT NOT NULL
    );
    CREATE TABLE callout_cache (
      address TEXT PRIMARY KEY,
      result TEXT NOT NULL,
      expires_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX callout_cache_expires ON callout_cache (expires_at);
  `,
  postgres: `
    CREATE TABLE verification_sources (
      name TEXT PRIMARY KEY,
      kind TEXT NOT NULL,
      settings TEXT NOT NULL,
      updated_at BIGINT NOT NULL,
      updated_by TEXT NOT NULL
    );
    CREATE TABLE callout_cache (
      address TEXT PRIMARY KEY,
      result TEXT NOT NULL,
      expires_at BIGINT NOT NULL
    );
    CREATE INDEX callout_cache_expires ON callout_cache (expires_at);
  `,
};
