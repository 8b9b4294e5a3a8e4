import type { Db } from '@moat/storage';
import type { Rules } from '@moat/rules';

/**
 * The versioned rules: every saved document is a new row, never an update, so the history
 * is complete and a rollback is just another version. The stored document's own `version`
 * always equals its row's version. Documents are stored as validated (defaults filled in).
 */
export interface StoredRules {
  readonly version: number;
  readonly document: Rules;
  readonly createdAt: number;
  readonly createdBy: string;
  readonly comment: string;
}

export type RulesVersionInfo = Omit<StoredRules, 'document'>;

interface Row {
  version: number;
  document: string;
  created_at: number;
  created_by: string;
  comment: string;
}

/** The version scanners should run, or undefined before the first start seeded one. */
export function currentRules(db: Db): StoredRules | undefined {
  const row = db.prepare<[], Row>('SELECT * FROM rules_versions ORDER BY version DESC LIMIT 1').get();
  return row === undefined ? undefined : toStored(row);
}

export function rulesVersion(db: Db, version: number): StoredRules | undefined {
  const row = db.prepare<[number], Row>('SELECT * FROM rules_versions WHERE version = ?').get(version);
  return row === undefined ? undefined : toStored(row);
}

/** History, newest first; `before` pages backwards. */
export function listRulesVersions(db: Db, limit: number, before?: number): RulesVersionInfo[] {
  return db
    .prepare<[number, number], Omit<Row, 'document'>>(
      'SELECT version, created_at, created_by, comment FROM rules_versions WHERE version < ? ORDER BY version DESC LIMIT ?',
    )
    .all(before ?? Number.MAX_SAFE_INTEGER, limit)
    .map((row) => ({ version: row.version, createdAt: row.created_at, createdBy: row.created_by, comment: row.comment }));
}

/**
 * Store `document` as version `current + 1` (its own `version` field is overwritten). The
 * caller has validated it and runs this inside the same transaction as the validation.
 */
export function insertRulesVersion(db: Db, document: Rules, by: string, comment: string, at: number): StoredRules {
  const version = nextRulesVersion(db);
  const stored = { ...document, version };
  db.prepare('INSERT INTO rules_versions (version, document, created_at, created_by, comment) VALUES (?, ?, ?, ?, ?)').run(
    version,
    JSON.stringify(stored),
    at,
    by,
    comment,
  );
  return { version, document: stored, createdAt: at, createdBy: by, comment };
}

export function nextRulesVersion(db: Db): number {
  const row = db.prepare<[], { v: number | null }>('SELECT max(version) AS v FROM rules_versions').get();
  return (row?.v ?? 0) + 1;
}

/** How long an end user's list change stays a stored rules version, and how many recent versions always stay. */
export const ENDUSER_VERSIONS_KEPT_MS = 24 * 3600_000;
export const RECENT_VERSIONS_KEPT = 50;

/**
 * Every click on an end user's page stores a whole rules version; kept forever they would grow
 * the database without bound (issue 18). Pruned: versions an end user made (`enduser:…`) that
 * are older than a day, below the newest RECENT_VERSIONS_KEPT and not the current one. Kept:
 * every admin version (rollback targets), recent ones (the base of an admin's edit in progress,
 * PUT /rules?baseVersion=), and the audit log, whose `rules.recipient-lists` entries name the
 * recipient, list, operation and pattern of each change on their own. Returns how many went.
 */
export function pruneEndUserVersions(db: Db, now: number): number {
  return db
    .prepare(
      `DELETE FROM rules_versions WHERE created_by LIKE 'enduser:%' AND created_at < ?
         AND version < (SELECT min(version) FROM (SELECT version FROM rules_versions ORDER BY version DESC LIMIT ?))`,
    )
    .run(now - ENDUSER_VERSIONS_KEPT_MS, RECENT_VERSIONS_KEPT).changes;
}

/** At first start: store `document` as version 1 if there are no rules yet. Returns the current rules. */
export function seedRules(db: Db, document: Rules, by: string, at: number = Date.now()): StoredRules {
  return db.transaction(() => currentRules(db) ?? insertRulesVersion(db, document, by, 'initial rules', at))();
}

function toStored(row: Row): StoredRules {
  return {
    version: row.version,
    document: JSON.parse(row.document) as Rules,
    createdAt: row.created_at,
    createdBy: row.created_by,
    comment: row.comment,
  };
}
