import type { Kysely } from 'kysely';
import type { MasterSchema } from '../db/schema.ts';
import type { Principal } from '../app-deps.ts';
import { redactSecrets } from './redact.ts';

/**
 * The audit trail: who did what, when, from where, through which credential. Written for
 * every change (and every failed login); read through GET /api/v1/audit.
 * Action names are stable, dotted, lower-case (`rules.update`); see the README's table.
 */

/** Who acted: a signed-in principal, or (for a failed login) the name that was tried. */
export type Actor = Principal | { readonly username: string; readonly via: string };

export interface AuditEntry {
  readonly id: number;
  readonly at: number;
  readonly username: string;
  readonly via: string;
  readonly ip: string;
  readonly action: string;
  readonly target: string;
  readonly details: Record<string, unknown>;
}

export interface AuditQuery {
  readonly username?: string;
  readonly action?: string;
  /** Inclusive lower bound, epoch ms. */
  readonly since?: number;
  /** Exclusive upper bound, epoch ms. */
  readonly until?: number;
  /** Only entries with an id below this (the previous page's `next`). */
  readonly before?: number;
  readonly limit: number;
}

export interface AuditLog {
  audit(actor: Actor, ip: string, action: string, target: string, details?: Record<string, unknown>): Promise<void>;
  /** Newest first. */
  list(query: AuditQuery): Promise<AuditEntry[]>;
}

/**
 * Over `db` or a transaction: a change and its audit entry built over one transaction are
 * stored together or not at all (a rules version, an end-user list change).
 */
export function createAuditLog(db: Kysely<MasterSchema>, now: () => number): AuditLog {
  return {
    async audit(actor, ip, action, target, details = {}) {
      await db.insertInto('audit').values({ at: now(), username: actor.username, via: actor.via, ip, action, target, details: JSON.stringify(redactSecrets(details)) }).execute();
    },
    async list(query) {
      let q = db.selectFrom('audit').selectAll();
      if (query.username !== undefined) q = q.where('username', '=', query.username);
      if (query.action !== undefined) q = q.where('action', '=', query.action);
      if (query.since !== undefined) q = q.where('at', '>=', query.since);
      if (query.until !== undefined) q = q.where('at', '<', query.until);
      if (query.before !== undefined) q = q.where('id', '<', query.before);
      const rows = await q.orderBy('id', 'desc').limit(query.limit).execute();
      return rows.map((row) => ({ ...row, details: JSON.parse(row.details) as Record<string, unknown> }));
    },
  };
}
