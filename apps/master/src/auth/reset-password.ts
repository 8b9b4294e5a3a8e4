import { randomBytes } from 'node:crypto';
import type { MasterConfig } from '../config.ts';
import { openConfiguredDatabase } from '../db/open-configured.ts';
import { createAuditLog } from '../audit/audit-log.ts';
import { hashPassword } from './passwords.ts';
import { createSessionStore } from './sessions.ts';
import { createTokenStore } from './tokens.ts';
import { createUsersRepository } from './users-repository.ts';

/**
 * The way back in for an administrator who lost the password: run on the master's machine
 * (it needs the database: the file, or `database.url`), sets a new generated password, ends the user's sessions,
 * and audits it. Returns the new password for the caller to print once.
 */
export async function resetPassword(config: MasterConfig, username: string, now: () => number = Date.now): Promise<string> {
  const database = await openConfiguredDatabase(config);
  try {
    const q = database.db;
    const users = createUsersRepository(q, now);
    const user = await users.findByUsername(username);
    if (!user) throw new Error(`no user named ${username}`);
    const password = randomBytes(18).toString('base64url');
    await users.update(user.id, { passwordHash: await hashPassword(password), disabled: false });
    await createSessionStore(q, now, config.auth.sessionHours).revokeAllForUser(user.id);
    await createTokenStore(q, now).revokeAllForUser(user.id);
    await createAuditLog(q, now).audit({ username: 'system', via: 'cli' }, '', 'user.password.reset', `user:${user.id}`, { username, reason: 'moat master reset-password' });
    return password;
  } finally {
    await database.close();
  }
}
