/**
 * The master link benchmark's view of the node list, as a console user sees it: GET
 * /api/v1/nodes on a master (which lists every node of the registry its database holds, so
 * on PostgreSQL also those linked to the other masters), polled until the nodes are where the
 * benchmark needs them.
 */
import type { ApiClient } from '../../helpers/cluster-harness.ts';
import { sleep } from './proc.ts';
import { epochMs } from './sim-events.ts';

interface Listed {
  name: string;
  online: boolean;
  rulesVersion: number;
}

/** Polls until `ok` holds for every named node; resolves with the time of the answer that showed it. */
async function waitNodes(api: ApiClient, names: readonly string[], ok: (n: Listed) => boolean, what: string, pollMs: number, timeoutMs: number): Promise<number> {
  const want = new Set(names);
  const deadline = epochMs() + timeoutMs;
  for (;;) {
    const res = await api.get('/api/v1/nodes');
    const at = epochMs();
    if (res.status !== 200) throw new Error(`GET /api/v1/nodes: ${res.status} ${res.text.slice(0, 300)}`);
    const items = (res.json.items as Listed[]).filter((n) => want.has(n.name));
    if (items.length === want.size && items.every(ok)) return at;
    if (at > deadline) {
      const behind = items.filter((n) => !ok(n)).map((n) => `${n.name}@${n.rulesVersion}${n.online ? '' : ' offline'}`);
      throw new Error(`time-out after ${timeoutMs} ms: nodes not ${what}: ${behind.slice(0, 10).join(', ')} (${items.length}/${want.size} listed)`);
    }
    await sleep(pollMs);
  }
}

/** Every named node online at `version` (or later). */
export function waitNodesAt(api: ApiClient, names: readonly string[], version: number, pollMs: number, timeoutMs: number): Promise<number> {
  return waitNodes(api, names, (n) => n.online && n.rulesVersion >= version, `online at rules version ${version}`, pollMs, timeoutMs);
}

/** Every named node offline: the masters have taken in their links' end (before the next phase, or before they stop). */
export function waitNodesOffline(api: ApiClient, names: readonly string[], timeoutMs: number): Promise<number> {
  return waitNodes(api, names, (n) => !n.online, 'offline', 50, timeoutMs);
}
