import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { validateDocument } from '@moat/config';
import { demoRules } from '@moat/rules';
import { openDatabase, type Db } from '@moat/storage';
import type { AppDeps, ClusterControl, Role } from '../app-deps.ts';
import { buildApp, type BuildAppOptions } from '../app.ts';
import { hashPassword } from '../auth/passwords.ts';
import { MasterConfigSchema } from '../config.ts';
import { sqliteDatabase } from '../db/database.ts';
import { MASTER_MIGRATIONS } from '../db/migrations.ts';
import { seedRules } from '../rules/rules-repository.ts';

/** Test support: a master app on a fresh database, with a user and an API token per role. */

export const PASSWORD = 'correct horse battery';

/** A ClusterControl that records what the app asked of it (no scanners in these tests). */
export interface FakeCluster extends ClusterControl {
  rulesChangedCalls: number;
  recipientListsChangedCalls: number;
}

export function fakeCluster(): FakeCluster {
  const offline = (): never => {
    throw new Error('no scanners in this test');
  };
  return {
    rulesChangedCalls: 0,
    rulesChanged() {
      this.rulesChangedCalls++;
    },
    recipientListsChangedCalls: 0,
    recipientListsChanged() {
      this.recipientListsChangedCalls++;
    },
    fetchQuarantined: async (): Promise<Readable> => offline(),
    quarantineAction: async () => offline(),
    queueList: async () => offline(),
    queueAction: async () => offline(),
    fetchRetained: async (): Promise<Readable> => offline(),
    redeliverRetained: async () => offline(),
  };
}

export interface Harness {
  readonly app: FastifyInstance;
  readonly deps: AppDeps & { readonly db: Db };
  readonly cluster: FakeCluster;
  readonly dir: string;
  /** The fake clock: `clock.t` is now, in epoch ms. */
  readonly clock: { t: number };
  /** Bearer headers of a ready-made API token per role. */
  readonly bearer: Readonly<Record<Role, { authorization: string }>>;
  close(): Promise<void>;
}

export interface HarnessOptions extends BuildAppOptions {
  readonly config?: Record<string, unknown>;
  readonly log?: Logger;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'moat-master-'));
  const clock = { t: Date.UTC(2025, 0, 1, 12, 0, 0) };
  const config = validateDocument(MasterConfigSchema, { dataDir: dir, log: { level: 'silent' }, ...options.config }, 'test config');
  const db = openDatabase(join(dir, 'master.sqlite'), MASTER_MIGRATIONS);
  const cluster = fakeCluster();
  const deps: AppDeps & { readonly db: Db } = { config, db, database: sqliteDatabase(db), log: options.log ?? pino({ level: 'silent' }), now: () => clock.t, cluster };
  await seedRules(deps.database.db, demoRules(), 'system', clock.t);
  const app = await buildApp(deps, options);
  // Cheap hashes for the fixtures (ln=10); routes hash with the real cost.
  const fixtureHash = await hashPassword(PASSWORD, { ln: 10, r: 8, p: 1 });
  const bearer = {} as Record<Role, { authorization: string }>;
  for (const role of ['auditor', 'operator', 'admin'] as const) {
    const user = await app.services.users.create(role, fixtureHash, role);
    bearer[role] = { authorization: `Bearer ${(await app.services.tokens.create(user.id, `${role} fixture`, { role, expiresAt: clock.t + 365 * 86_400_000 })).token}` };
  }
  return {
    app,
    deps,
    cluster,
    dir,
    clock,
    bearer,
    async close() {
      await app.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Sign in through the API; returns the headers a browser console sends: the session cookie and
 * the CSRF header (`X-Moat-Request: 1`) that cookie-authenticated changes need.
 */
export async function login(app: FastifyInstance, username: string, password = PASSWORD): Promise<{ cookie: string; 'x-moat-request': string }> {
  const res = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password } });
  if (res.statusCode !== 200) throw new Error(`login as ${username}: ${res.statusCode} ${res.body}`);
  const session = res.cookies.find((c) => c.name === 'moat_session');
  if (!session) throw new Error('no session cookie');
  return { cookie: `moat_session=${session.value}`, 'x-moat-request': '1' };
}
