import type { DeliveryStatus, EventType, MessageLogged, OutboxEvent, QuarantineAdded } from '@moat/protocol';
import { openDatabase, type Db } from '@moat/storage';
import { DATA_MIGRATION } from '../db/migration-002-data.ts';
import { CLUSTER_MIGRATION } from '../db/migration-003-cluster.ts';
import { RETENTION_MIGRATION } from '../db/migration-004-retention.ts';
import { REFUSALS_MIGRATION } from '../db/migration-008-refusals.ts';
import { EVENT_EPOCHS_MIGRATION } from '../db/migration-012-event-epochs.ts';
import { TOP_BY_NODE_MIGRATION } from '../db/migration-015-top-by-node.ts';

/** Test helpers for the data layer (not a test file itself). */

/** A fresh in-memory master database with the data and node tables (no auth tables needed). */
export function openTestDb(): Db {
  return openDatabase(':memory:', [DATA_MIGRATION, CLUSTER_MIGRATION, RETENTION_MIGRATION, REFUSALS_MIGRATION, EVENT_EPOCHS_MIGRATION, TOP_BY_NODE_MIGRATION]);
}

export function addNode(db: Db, id: string, name: string): void {
  db.prepare("INSERT INTO nodes (id, name, credential_hash, joined_at) VALUES (?, ?, 'x', 0)").run(id, name);
}

/** A valid 20-character message id from a number. */
export function msgId(n: number, prefix = 'M'): string {
  return `${prefix}${String(n).padStart(20 - prefix.length, '0')}`;
}

export const T0 = Date.UTC(2025, 0, 6, 0, 0, 0);

export function logged(n: number, over: Partial<MessageLogged> = {}): MessageLogged {
  return {
    id: msgId(n), receivedAt: T0 + n * 60_000, clientIp: '192.0.2.1', helo: 'mx.sender.test', mailFrom: `user${n % 3}@sender${n % 2}.test`,
    rcptTo: [`rcpt${n % 4}@example.test`], subject: `Subject number ${n}`, messageId: `<${n}@sender.test>`, size: 1000 + n,
    action: 'deliver', score: 1.5, reasons: [], rulesVersion: 1, status: 'queued', ...over,
  };
}

export function quarantined(n: number, over: Partial<QuarantineAdded> = {}): QuarantineAdded {
  const m = logged(n);
  return {
    id: m.id, file: `${m.id}.eml`, createdAt: m.receivedAt, mailFrom: m.mailFrom, rcptTo: m.rcptTo, subject: m.subject, size: m.size,
    score: 9, reasons: [{ kind: 'content', rule: 'demo', match: 'QUARANTINE-ME' }], ...over,
  };
}

export function delivery(n: number, attempt: number, over: Partial<DeliveryStatus> = {}): DeliveryStatus {
  return { id: msgId(n), kind: 'message', delivered: logged(n).rcptTo, deferred: [], bounced: [], detail: '250 ok', attempt, at: T0 + n * 60_000 + attempt, ...over };
}

export function event(seq: number, type: EventType | string, payload: unknown): OutboxEvent {
  // Cast: OutboxEvent['type'] currently resolves to `never` (the union is built from a mapped array).
  return { seq, type, payload, createdAt: T0 + seq } as OutboxEvent;
}

export function count(db: Db, sql: string, ...params: unknown[]): number {
  return (db.prepare(sql).pluck().get(...params) as number | null) ?? 0;
}
