import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ConfigError } from '@moat/config';
import { writeFileDurably } from '@moat/storage';
import type { AppDeps } from '../app-deps.ts';
import { createAuditLog } from '../audit/audit-log.ts';
import { hashPassword } from './passwords.ts';
import { createUsersRepository, isUniqueViolation } from './users-repository.ts';

export const ADMIN_PASSWORD_FILE = 'admin-password.txt';

export interface FirstAdmin {
  /** False when users already existed: nothing was done. */
  readonly created: boolean;
  readonly username?: string;
  /** Set only when the password was generated: the caller prints it once. */
  readonly generatedPassword?: string;
  /** Where the generated password was written (mode 0600). */
  readonly passwordFile?: string;
}

/**
 * On first start (no users at all), create the admin named in config.admin.username. Its
 * password comes from config.admin.password, else MOAT_ADMIN_PASSWORD, else it is generated,
 * written to `<dataDir>/admin-password.txt` (0600) and returned. There is never a built-in
 * default password. Once any user exists this does nothing, so deleting the file is safe.
 */
export async function ensureFirstAdmin(
  deps: Pick<AppDeps, 'config' | 'database' | 'log' | 'now'>,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<FirstAdmin> {
  const { config, database, log, now } = deps;
  if ((await createUsersRepository(database.db, now).count()) > 0) return { created: false };
  const username = config.admin.username;
  const given = config.admin.password ?? nonEmpty(env['MOAT_ADMIN_PASSWORD']);
  const password = given ?? randomBytes(18).toString('base64url');
  const hash = await hashPassword(password);
  // Check again after the (slow) hash: another process may have created users meanwhile.
  // The user and its audit entry in one transaction.
  const created = await database.db.transaction().execute(async (trx) => {
    const users = createUsersRepository(trx, now);
    if ((await users.count()) > 0) return undefined;
    const user = await users.create(username, hash, 'admin');
    await createAuditLog(trx, now).audit({ username: 'system', via: 'system' }, '', 'user.create', `user:${user.id}`, {
      username,
      role: 'admin',
      reason: 'first start',
      passwordSource: given === undefined ? 'generated' : config.admin.password !== undefined ? 'config' : 'environment',
    });
    return user;
  }).catch((err: unknown) => {
    // Masters starting at once on one PostgreSQL: both saw no user; the other one made the admin.
    if (isUniqueViolation(err)) return undefined;
    throw err;
  });
  if (created === undefined) return { created: false };
  if (given !== undefined) {
    log.info({ event: 'ADMIN_CREATED', username }, 'first admin created with the configured password');
    return { created: true, username };
  }
  const passwordFile = join(config.dataDir, ADMIN_PASSWORD_FILE);
  await writeFileDurably(passwordFile, `${password}\n`);
  log.warn({ event: 'ADMIN_CREATED', username, passwordFile }, 'first admin created with a generated password');
  return { created: true, username, generatedPassword: password, passwordFile };
}

function nonEmpty(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (value.length < 8) throw new ConfigError('environment', [{ key: 'MOAT_ADMIN_PASSWORD', message: 'must be at least 8 characters' }]);
  return value;
}
