import type { Kysely, Selectable } from 'kysely';
import type { Rules } from '@moat/rules';
import type { MasterSchema } from '../db/schema.ts';
import type { RulesVersionsTable } from '../db/tables/admin.ts';

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

type Db = Kysely<MasterSchema>;

/** The version scanners should run, or undefined before the first start seeded one. */
export async function currentRules(db: Db): Promise<StoredRules | undefined> {
  const row = await db.selectFrom('rules_versions').selectAll().orderBy('version', 'desc').limit(1).executeTakeFirst();
  return row === undefined ? undefined : toStored(row);
}

export async function rulesVersion(db: Db, version: number): Promise<StoredRules | undefined> {
  const row = await db.selectFrom('rules_versions').selectAll().where('version', '=', version).executeTakeFirst();
  return row === undefined ? undefined : toStored(row);
}

/** History, newest first; `before` pages backwards. */
export async function listRulesVersions(db: Db, limit: number, before?: number): Promise<RulesVersionInfo[]> {
  const rows = await db
    .selectFrom('rules_versions')
    .select(['version', 'created_at', 'created_by', 'comment'])
    .where('version', '<', before ?? Number.MAX_SAFE_INTEGER)
    .orderBy('version', 'desc')
    .limit(limit)
    .execute();
  return rows.map((row) => ({ version: row.version, createdAt: row.created_at, createdBy: row.created_by, comment: row.comment }));
}

/**
 * Store `document` as version `current + 1` (its own `version` field is overwritten). The
 * caller has validated it and runs this inside the same transaction as the validation. Two
 * masters storing at once cannot both make one version: the second insert is a unique
 * violation (the version is the primary key) and its transaction stores nothing.
 */
export async function insertRulesVersion(db: Db, document: Rules, by: string, comment: string, at: number): Promise<StoredRules> {
  const version = await nextRulesVersion(db);
  const stored = { ...document, version };
  await db.insertInto('rules_versions').values({ version, document: JSON.stringify(stored), created_at: at, created_by: by, comment }).execute();
  return { version, document: stored, createdAt: at, createdBy: by, comment };
}

export async function nextRulesVersion(db: Db): Promise<number> {
  const row = await db.selectFrom('rules_versions').select((eb) => eb.fn.max('version').as('v')).executeTakeFirst();
  return (row?.v ?? 0) + 1;
}

/** How long an end user's list change stays a stored rules version, and how many recent versions always stay. */
export const ENDUSER_VERSIONS_KEPT_MS = 24 * 3600_000;
export const RECENT_VERSIONS_KEPT = 50;

/**
 * Every click on an end user's page stored a whole rules version before their lists got a
 * store of their own (migration 17); kept forever they would grow the database without bound
 * (issue 18). Pruned: versions an end user made (`enduser:…`) that are older than a day, below
 * the newest RECENT_VERSIONS_KEPT and not the current one. Kept: every admin version (rollback
 * targets), recent ones (the base of an admin's edit in progress, PUT /rules?baseVersion=), and
 * the audit log, whose `rules.recipient-lists` entries name the recipient, list, operation and
 * pattern of each change on their own. Returns how many went.
 */
export async function pruneEndUserVersions(db: Db, now: number): Promise<number> {
  const result = await db
    .deleteFrom('rules_versions')
    .where('created_by', 'like', 'enduser:%')
    .where('created_at', '<', now - ENDUSER_VERSIONS_KEPT_MS)
    .where('version', '<', (eb) =>
      eb.selectFrom((sub) => sub.selectFrom('rules_versions').select('version').orderBy('version', 'desc').limit(RECENT_VERSIONS_KEPT).as('recent')).select((e) => e.fn.min('version').as('v')),
    )
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** At first start: store `document` as version 1 if there are no rules yet. Returns the current rules. */
export async function seedRules(db: Db, document: Rules, by: string, at: number = Date.now()): Promise<StoredRules> {
  return db.transaction().execute(async (trx) => (await currentRules(trx)) ?? insertRulesVersion(trx, document, by, 'initial rules', at));
}

function toStored(row: Selectable<RulesVersionsTable>): StoredRules {
  return {
    version: row.version,
    document: JSON.parse(row.document) as Rules,
    createdAt: row.created_at,
    createdBy: row.created_by,
    comment: row.comment,
  };
}
