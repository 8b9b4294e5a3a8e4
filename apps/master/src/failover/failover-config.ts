import { ConfigError } from '@moat/config';
import type { MasterConfig } from '../config.ts';

/**
 * Checks across keys that the schema cannot express, at start, each naming its key: a master
 * that may be a standby needs masters to follow and the join secret to prove itself with.
 */
export function checkFailoverConfig(config: MasterConfig, env: Readonly<Record<string, string | undefined>> = process.env): void {
  const f = config.failover;
  if (!f) return;
  const errors: { key: string; message: string }[] = [];
  if (config.database) errors.push({ key: 'database.url', message: 'not with failover: failover replicates the SQLite database; on PostgreSQL, HA is the database\'s own (a replicated PostgreSQL, docs/database.md): drop failover' });
  const mayFollow = f.election !== undefined || f.role === 'standby';
  if (mayFollow && f.peers.length === 0) errors.push({ key: 'failover.peers', message: 'a master that may be a standby needs the other masters\' replication links (…/cluster/replication)' });
  if (!(config.cluster.joinSecret ?? env['MOAT_JOIN_SECRET'])) errors.push({ key: 'cluster.joinSecret', message: 'required with failover: a standby proves itself with it (or set MOAT_JOIN_SECRET)' });
  if (f.peers.some((p) => p.startsWith('wss:')) && !f.fingerprint) errors.push({ key: 'failover.fingerprint', message: 'required with wss:// peers (the other masters\' certificate is pinned)' });
  if (f.witness && !f.election) errors.push({ key: 'failover.witness', message: 'a witness only makes sense with failover.election' });
  if (errors.length > 0) throw new ConfigError('master config', errors);
}
