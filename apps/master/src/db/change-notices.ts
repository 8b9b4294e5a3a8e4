import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import pg from 'pg';
import type { Logger } from 'pino';
import type { MasterDatabase } from './database.ts';
import { findPrimary, hostOf, splitHosts } from './primary-finder.ts';

/** What masters tell each other changed, so each pushes it to the scanners linked to it. */
export type ChangeKind = 'rules' | 'recipient-lists' | 'verification' | 'learn';
const KINDS: ReadonlySet<string> = new Set<ChangeKind>(['rules', 'recipient-lists', 'verification', 'learn']);
const CHANNEL = 'moat_changes';

export interface ChangeNotices {
  /** Tell the other masters that `kind` changed (call it once the change committed). Nothing to do on SQLite: one master. */
  notify(kind: ChangeKind): Promise<void>;
  close(): Promise<void>;
}

/**
 * Several active masters on one PostgreSQL (docs/database.md): a change made on one master
 * (a rules version, an end user's list, a verification source, a learn event) must reach the
 * scanners linked to the others. After its commit the master sends `NOTIFY moat_changes`
 * (`<this master's instance>:<kind>`); every master LISTENs on a connection of its own (not a
 * pooled one: a LISTEN lives as long as its session) to the primary (a standby cannot LISTEN),
 * and on a notice from another master re-reads the current state and pushes it. Notices sent
 * while a listener is away are lost, so on every (re)connect it calls `onChange` for every kind:
 * each master then pushes what is current, which a scanner already at that version ignores.
 */
export function changeNotices(database: MasterDatabase, options: { url: string | undefined; log: Logger; onChange: (kind: ChangeKind) => void; retryMs?: number }): ChangeNotices {
  if (database.engine !== 'postgres' || !options.url) return { notify: async () => undefined, close: async () => undefined };
  const hosts = splitHosts(options.url);
  const instance = randomBytes(6).toString('hex');
  const { log, onChange } = options;
  let closed = false;
  let client: pg.Client | undefined;
  let wake: (() => void) | undefined;

  const listen = async (): Promise<void> => {
    while (!closed) {
      try {
        const url = await findPrimary(hosts);
        const c = new pg.Client({ connectionString: url });
        client = c;
        const ended = new Promise<void>((resolve) => {
          c.on('error', () => resolve());
          c.on('end', () => resolve());
        });
        await c.connect();
        c.on('notification', (n) => {
          const [from, kind] = (n.payload ?? '').split(':');
          if (from !== instance && kind !== undefined && KINDS.has(kind)) onChange(kind as ChangeKind);
        });
        await c.query(`LISTEN ${CHANNEL}`);
        log.info({ event: 'CHANGE_NOTICES_LISTENING', host: hostOf(url) }, 'listening for changes made on the other masters');
        for (const kind of KINDS) onChange(kind as ChangeKind);
        await ended;
        if (!closed) log.warn({ event: 'CHANGE_NOTICES_LOST', host: hostOf(url) }, 'the connection for the other masters\' changes ended; reconnecting');
      } catch (err) {
        if (!closed) log.warn({ event: 'CHANGE_NOTICES_LOST', err }, 'could not listen for the other masters\' changes; retrying');
      }
      client = undefined;
      if (!closed) await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, options.retryMs ?? 1000);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  };
  const running = listen();

  return {
    async notify(kind) {
      await sql`SELECT pg_notify(${CHANNEL}, ${`${instance}:${kind}`})`.execute(database.db);
    },
    async close() {
      closed = true;
      wake?.();
      await client?.end().catch(() => undefined);
      await running;
    },
  };
}
