import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { validateDocument } from '@moat/config';
import { openDatabase } from '@moat/storage';
import { MasterConfigSchema } from '../config.ts';
import { sqliteDatabase } from '../db/database.ts';
import { MASTER_MIGRATIONS } from '../db/migrations.ts';
import { ensureFirstAdmin } from './bootstrap-admin.ts';
import { verifyPassword } from './passwords.ts';
import { createUsersRepository } from './users-repository.ts';

function setup(config: Record<string, unknown> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'moat-admin-'));
  const db = openDatabase(join(dir, 'master.sqlite'), MASTER_MIGRATIONS);
  const database = sqliteDatabase(db);
  const deps = { config: validateDocument(MasterConfigSchema, { dataDir: dir, ...config }, 't'), db, database, log: pino({ level: 'silent' }), now: () => 1000 };
  return { dir, db, deps, users: createUsersRepository(database.db, () => 1000) };
}

test('first start without a configured password: a strong one is generated, stored 0600 and returned, once', async () => {
  const { dir, deps, users, db } = setup();
  const first = await ensureFirstAdmin(deps, {});
  assert.equal(first.created, true);
  assert.equal(first.username, 'admin');
  assert.ok(first.generatedPassword && first.generatedPassword.length >= 20);
  assert.equal(first.passwordFile, join(dir, 'admin-password.txt'));
  assert.equal(readFileSync(first.passwordFile, 'utf8'), `${first.generatedPassword}\n`);
  assert.equal(statSync(first.passwordFile).mode & 0o777, 0o600);
  const admin = await users.findByUsername('admin');
  assert.equal(admin?.role, 'admin');
  assert.equal(await verifyPassword(first.generatedPassword, (await users.passwordHashOf(admin.id)) ?? ''), true);
  // Users exist now: nothing happens again.
  assert.deepEqual(await ensureFirstAdmin(deps, {}), { created: false });
  assert.equal(await users.count(), 1);
  const audit = db.prepare("SELECT username, action, details FROM audit").all() as { details: string }[];
  assert.equal(audit.length, 1);
  assert.doesNotMatch(audit[0]?.details ?? '', new RegExp(first.generatedPassword));
});

test('the configured password, or MOAT_ADMIN_PASSWORD, is used and not written anywhere', async () => {
  const fromConfig = setup({ admin: { username: 'root', password: 'configured password' } });
  const a = await ensureFirstAdmin(fromConfig.deps, { MOAT_ADMIN_PASSWORD: 'environment password' });
  assert.deepEqual(a, { created: true, username: 'root' });
  const root = await fromConfig.users.findByUsername('root');
  assert.equal(await verifyPassword('configured password', (await fromConfig.users.passwordHashOf(root?.id ?? 0)) ?? ''), true);

  const fromEnv = setup();
  const b = await ensureFirstAdmin(fromEnv.deps, { MOAT_ADMIN_PASSWORD: 'environment password' });
  assert.equal(b.generatedPassword, undefined);
  const admin = await fromEnv.users.findByUsername('admin');
  assert.equal(await verifyPassword('environment password', (await fromEnv.users.passwordHashOf(admin?.id ?? 0)) ?? ''), true);
  assert.throws(() => statSync(join(fromEnv.dir, 'admin-password.txt')));

  await assert.rejects(ensureFirstAdmin(setup().deps, { MOAT_ADMIN_PASSWORD: 'short' }), /MOAT_ADMIN_PASSWORD/);
});
