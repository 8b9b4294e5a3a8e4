import { mkdirSync } from 'node:fs';
import type { MasterConfig } from '../config.ts';
import { openConfiguredDatabase } from '../db/open-configured.ts';
import { createAuditLog } from '../audit/audit-log.ts';
import { createJoinTokens, type MintedJoinToken } from './join-tokens.ts';

/**
 * `moat master join-token`: make a one-time join token on the master's machine (it needs the
 * database file; the master may be running: SQLite serialises the write). Audited as the
 * system via the CLI. Throws with the reason when the name is taken and `replace` was not given.
 * The scanners' first tokens are made before the master's first start (docs/containers.md: on a
 * fresh volume), so the data folder is made here as the master makes it (0700).
 */
export async function mintJoinTokenOffline(config: MasterConfig, nodeName: string, opts: { ttlSeconds: number; replace: boolean }, now: () => number = Date.now): Promise<MintedJoinToken> {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const database = await openConfiguredDatabase(config);
  try {
    const made = await createJoinTokens(database.db).mint(nodeName, { ...opts, createdBy: 'system (cli)', now: now() });
    if (!made.ok) throw new Error(made.message);
    await createAuditLog(database.db, now).audit({ username: 'system', via: 'cli' }, '', 'node.join-token', `node:${nodeName}`, { ttlSeconds: opts.ttlSeconds, replace: opts.replace, expiresAt: new Date(made.minted.expiresAt).toISOString() });
    return made.minted;
  } finally {
    await database.close();
  }
}
