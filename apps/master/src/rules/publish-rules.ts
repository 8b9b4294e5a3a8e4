import type { Logger } from 'pino';
import type { Db } from '@moat/storage';
import { validateRules } from '@moat/rules';
import type { ClusterControl } from '../app-deps.ts';
import type { Actor, AuditLog } from '../audit/audit-log.ts';
import { currentRules, insertRulesVersion, nextRulesVersion, type StoredRules } from './rules-repository.ts';
import { summarizeRulesChange } from './rules-diff.ts';

export interface PublishDeps {
  readonly db: Db;
  readonly now: () => number;
  readonly log: Logger;
  readonly cluster: ClusterControl;
  readonly auditLog: AuditLog;
}

export interface PublishRequest {
  /** The submitted document; its `version` is ignored: the master assigns current + 1. */
  readonly input: unknown;
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
 * then tell the cluster hub to push it.
 */
export function publishRules(deps: PublishDeps, request: PublishRequest): StoredRules {
  const { db, now, log, cluster, auditLog } = deps;
  const stored = db.transaction(() => {
    const previous = currentRules(db);
    const version = nextRulesVersion(db);
    const input = isObject(request.input) ? { ...request.input, version } : request.input;
    const document = validateRules(input, 'rules');
    const saved = insertRulesVersion(db, document, request.by.username, request.comment, now());
    auditLog.audit(request.by, request.ip, request.action, `rules:${saved.version}`, {
      version: saved.version,
      previousVersion: previous?.version ?? null,
      comment: request.comment,
      ...summarizeRulesChange(previous?.document, saved.document),
      ...request.extra,
    });
    return saved;
  })();
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
