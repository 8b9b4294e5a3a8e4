import type { TestContext } from 'node:test';
import { sql, type Kysely } from 'kysely';
import type { DeliveryStatus, EventType, MessageLogged, OutboxEvent, QuarantineAdded } from '@moat/protocol';
import { migrate, openDatabase } from '@moat/storage';
import { migratePostgres, openMasterDatabase, sqliteDatabase, type Engine, type MasterDatabase } from '../db/database.ts';
import { MASTER_MIGRATIONS } from '../db/migrations.ts';
import type { MasterSchema } from '../db/schema.ts';
import { freshPostgresUrl } from '../testing/databases.ts';
export { seededRandom } from '../testing/seeded-random.ts';
import { createIngest, type Ingest } from './ingest.ts';

/** Test helpers for the data layer (not a test file itself). Databases come from testing/databases.ts (`openTestDatabase(engine, t)`). */

/** The ingest over a test database. */
export function ingestInto(database: MasterDatabase): Ingest {
  return createIngest(database.db, database.engine);
}

/**
 * A database on `engine` migrated only up to (not including) `version`, and a function that
 * runs the rest: for tests of what a migration does to rows stored before it.
 */
export async function openDatabaseBefore(engine: Engine, version: number, t: TestContext): Promise<{ database: MasterDatabase; migrateRest(): Promise<void> }> {
  const older = MASTER_MIGRATIONS.filter((m) => m.version < version);
  if (engine === 'sqlite') {
    const database = sqliteDatabase(openDatabase(':memory:', older));
    t.after(() => database.close());
    return { database, migrateRest: async () => migrate(database.sqlite!, MASTER_MIGRATIONS) };
  }
  const database = await openMasterDatabase({ engine: 'postgres', url: await freshPostgresUrl() }, older);
  t.after(() => database.close());
  return { database, migrateRest: () => migratePostgres(database.db, MASTER_MIGRATIONS) };
}

export async function addNode(db: Kysely<MasterSchema>, id: string, name: string): Promise<void> {
  await sql`INSERT INTO nodes (id, name, credential_hash, joined_at) VALUES (${id}, ${name}, 'x', 0)`.execute(db);
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

/** The first column of the first row of a query (a count, a sum; 0 for NULL), as a number on both engines. */
export async function count(db: Kysely<MasterSchema>, query: string): Promise<number> {
  const { rows } = await sql.raw<Record<string, unknown>>(query).execute(db);
  const first = rows[0] === undefined ? undefined : Object.values(rows[0])[0];
  return first === null || first === undefined ? 0 : Number(first);
}

/** The first column of the first row of a query, as the engine returns it (undefined without a row). */
export async function one(db: Kysely<MasterSchema>, query: string): Promise<unknown> {
  const { rows } = await sql.raw<Record<string, unknown>>(query).execute(db);
  return rows[0] === undefined ? undefined : Object.values(rows[0])[0];
}
