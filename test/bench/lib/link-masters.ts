/**
 * The master link benchmark's masters, each a real master in its own process (lib/link-master.ts):
 * one on SQLite, or any number on one PostgreSQL database (each its own `node.name` and data
 * folder), with an admin API session on each.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ADMIN_PASSWORD, apiClient, type ApiClient } from '../../helpers/cluster-harness.ts';
import { spawnRpcChild, type RpcChild } from './ipc-rpc.ts';

export interface BenchMaster {
  /** `A`, `B`, …: its name in the report; `bench-a`, … its node.name. */
  readonly label: string;
  readonly rpc: RpcChild;
  readonly url: string;
  readonly wsUrl: string;
  readonly api: ApiClient;
  /** One-time join tokens for `names`, minted on this master. */
  joinTokens(names: readonly string[]): Promise<Record<string, string>>;
  /** CPU time (ms) the master's process has spent so far. */
  cpuMs(): Promise<number>;
}

export interface MasterSpec {
  readonly index: number;
  /** Under it, the master's data folder (and on SQLite its database). */
  readonly dir: string;
  readonly logDir: string;
  /** PostgreSQL: the database every master shares. */
  readonly databaseUrl: string | undefined;
  readonly heartbeatSeconds: number;
  readonly seedRules: unknown;
  /** Tells this engine's masters' log files apart. */
  readonly tag: string;
}

export async function startBenchMaster(spec: MasterSpec, here: string): Promise<BenchMaster> {
  const label = String.fromCharCode(65 + spec.index);
  const name = `bench-${label.toLowerCase()}`;
  const dataDir = join(spec.dir, name);
  mkdirSync(dataDir, { recursive: true });
  const rpc = spawnRpcChild(`master-${spec.tag}-${label}`, join(here, 'link-master.ts'), [], spec.logDir);
  const { port, url } = await rpc.call<{ port: number; url: string }>(
    'start',
    { dataDir, heartbeatSeconds: spec.heartbeatSeconds, adminPassword: ADMIN_PASSWORD, seedRules: spec.seedRules, databaseUrl: spec.databaseUrl, nodeName: name },
    90_000,
  );
  return {
    label,
    rpc,
    url,
    wsUrl: `ws://127.0.0.1:${port}/cluster`,
    api: await apiClient(url),
    joinTokens: (names) => rpc.call<Record<string, string>>('joinTokens', { names }, 30_000),
    cpuMs: () => rpc.call<number>('cpu', {}, 10_000),
  };
}
