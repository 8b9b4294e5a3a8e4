import type { Db } from '@moat/storage';
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
  audit(actor: Actor, ip: string, action: string, target: string, details?: Record<string, unknown>): void;
  /** Newest first. */
  list(query: AuditQuery): AuditEntry[];
}

interface Row {
  id: number;
  at: number;
  username: string;
  via: string;
  ip: string;
  action: string;
  target: string;
  details: string;
}

export function createAuditLog(db: Db, now: () => number): AuditLog {
  const insert = db.prepare<[number, string, string, string, string, string, string]>(
    'INSERT INTO audit (at, username, via, ip, action, target, details) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  return {
    audit(actor, ip, action, target, details = {}) {
      insert.run(now(), actor.username, actor.via, ip, action, target, JSON.stringify(redactSecrets(details)));
    },
    list(query) {
      const filters: [string, string | number | undefined][] = [
        ['username = ?', query.username],
        ['action = ?', query.action],
        ['at >= ?', query.since],
        ['at < ?', query.until],
        ['id < ?', query.before],
      ];
      const active = filters.filter((f): f is [string, string | number] => f[1] !== undefined);
      const where = active.map(([clause]) => clause);
      const params = active.map(([, value]) => value);
      const sql = `SELECT * FROM audit ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
      return db
        .prepare<(string | number)[], Row>(sql)
        .all(...params, query.limit)
        .map((row) => ({ ...row, details: JSON.parse(row.details) as Record<string, unknown> }));
    },
  };
}
