import type { Logger } from 'pino';
import type { Kysely } from 'kysely';
import { validateRules } from '@moat/rules';
import type { ClusterControl } from '../app-deps.ts';
import { createAuditLog, type Actor } from '../audit/audit-log.ts';
import type { MasterSchema } from '../db/schema.ts';
import { currentRules, insertRulesVersion, nextRulesVersion, type StoredRules } from './rules-repository.ts';
import { summarizeRulesChange } from './rules-diff.ts';

export interface PublishDeps {
  readonly db: Kysely<MasterSchema>;
  readonly now: () => number;
  readonly log: Logger;
  readonly cluster: ClusterControl;
}

export interface PublishRequest {
  /**
   * The document to store, made from the current rules inside the save's transaction (an edit
   * rebased on them, a rollback keeping their lists), so no other save comes between the read
   * and the store; its `version` is ignored: the master assigns current + 1.
   */
  readonly input: (db: Kysely<MasterSchema>, current: StoredRules | undefined) => unknown;
  /** An admin (console or token); end users' lists are not rules (recipient-lists/). */
  readonly by: Actor;
  readonly ip: string;
  readonly comment: string;
  readonly action: 'rules.update' | 'rules.rollback';
  /** Extra audit details (the rolled-back-to version). */
  readonly extra?: Record<string, unknown>;
}

/**
 * The one way a new rules version comes to be: validate (throws ConfigError naming every bad
 * key, nothing stored), store as current + 1 and write the audit entry in one transaction,
 * then tell the cluster hub to push it. Two masters saving at once on PostgreSQL cannot both
 * store one version: the later insert is a unique violation (`isUniqueViolation`) and stores
 * nothing.
 */
export async function publishRules(deps: PublishDeps, request: PublishRequest): Promise<StoredRules> {
  const { db, now, log, cluster } = deps;
  const stored = await db.transaction().execute(async (trx) => {
    const previous = await currentRules(trx);
    const version = await nextRulesVersion(trx);
    const submitted = await request.input(trx, previous);
    const input = isObject(submitted) ? { ...submitted, version } : submitted;
    const document = validateRules(input, 'rules');
    const saved = await insertRulesVersion(trx, document, request.by.username, request.comment, now());
    await createAuditLog(trx, now).audit(request.by, request.ip, request.action, `rules:${saved.version}`, {
      version: saved.version,
      previousVersion: previous?.version ?? null,
      comment: request.comment,
      ...summarizeRulesChange(previous?.document, saved.document),
      ...request.extra,
    });
    return saved;
  });
  log.info({ event: 'RULES_PUBLISHED', version: stored.version, by: stored.createdBy, action: request.action }, 'rules version stored');
  try {
    cluster.rulesChanged();
  } catch (err) {
    // The version is stored; scanners also receive it when they next connect.
    log.error({ event: 'RULES_PUSH_ERROR', version: stored.version, err }, 'could not push the new rules version');
  }
  return stored;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
