import { callMaster, type MasterClient } from './master-client.ts';
import { ago, formatTable } from './table.ts';

/** A node as GET /api/v1/nodes answers it (the fields this command shows). */
interface NodeView {
  id: string;
  name: string;
  online: boolean;
  lastSeen: string | null;
  rulesVersion: number;
  rulesCurrent: boolean;
  queueDepth: number;
  outboxBacklog: number;
  software: string;
  balancer?: { holder: boolean; election: { state: string; priority: number } | null };
  engines?: { reportedAt: string; items: EngineView[] };
}

/** One analyzer's engine on a node (GET /api/v1/nodes `engines.items`; scanners of protocol 5). */
export interface EngineView {
  engine: string;
  state: 'up' | 'down' | 'unknown';
  checkedAt?: string;
  samples: number;
  windowSeconds: number;
  p50Ms?: number;
  p95Ms?: number;
  errors: number;
  lastError?: { message: string; at: string };
}

/** What `moat status --json` prints: one object, stable keys. */
export interface ClusterStatus {
  master: { url: string; rulesVersion: number };
  nodes: {
    name: string;
    id: string;
    /** online, draining (online, in maintenance: takes no new sessions), offline. */
    state: 'online' | 'draining' | 'offline';
    maintenance: boolean;
    lastSeen: string | null;
    rulesVersion: number;
    rulesCurrent: boolean;
    queueDepth: number;
    outboxBacklog: number;
    /** Holds the virtual SMTP address now (its last heartbeat said so); null: it runs no balancer. */
    holdsAddress: boolean | null;
    election: string | null;
    software: string;
    /** Each analyzer's engine (its last heartbeat's); null: the node has not reported them (older scanner, or no heartbeat since the master started). */
    engines: EngineView[] | null;
  }[];
}

export async function clusterStatus(client: MasterClient): Promise<ClusterStatus> {
  const [nodes, rules] = await Promise.all([
    callMaster<{ items: NodeView[] }>(client, 'GET', '/nodes'),
    callMaster<{ version: number; document: { nodes?: Record<string, { maintenance?: boolean }> } }>(client, 'GET', '/rules'),
  ]);
  const settings = rules.document.nodes ?? {};
  return {
    master: { url: client.url, rulesVersion: rules.version },
    nodes: nodes.items.map((n) => {
      const maintenance = settings[n.name]?.maintenance === true;
      return {
        name: n.name,
        id: n.id,
        state: !n.online ? 'offline' : maintenance ? 'draining' : 'online',
        maintenance,
        lastSeen: n.lastSeen,
        rulesVersion: n.rulesVersion,
        rulesCurrent: n.rulesCurrent,
        queueDepth: n.queueDepth,
        outboxBacklog: n.outboxBacklog,
        holdsAddress: n.balancer ? n.balancer.holder : null,
        election: n.balancer?.election ? `${n.balancer.election.state} (prio ${n.balancer.election.priority})` : null,
        software: n.software,
        engines: n.engines?.items ?? null,
      };
    }),
  };
}

/** `moat status`: the master asked, then one line per node, like `pmgcm status`. */
export function formatStatus(s: ClusterStatus, now = Date.now()): string {
  const nodes = s.nodes.length === 0
    ? 'no scanner has joined (docs/cluster.md, "Joining")'
    : formatTable(['NODE', 'STATE', 'RULES', 'QUEUE', 'OUTBOX', 'VIRTUAL ADDRESS', 'LAST SEEN', 'ENGINES'], s.nodes.map((n) => [
      n.name,
      n.state,
      n.rulesCurrent ? String(n.rulesVersion) : `${n.rulesVersion} (behind)`,
      String(n.queueDepth),
      String(n.outboxBacklog),
      n.holdsAddress === null ? '-' : n.holdsAddress ? 'holds it' : (n.election ?? 'standby'),
      n.state === 'offline' ? ago(n.lastSeen, now) : 'now',
      n.engines === null ? '-' : n.engines.length === 0 ? 'none' : n.engines.map(engineCell).join(', '),
    ]));
  const errors = s.nodes.flatMap((n) => (n.engines ?? []).filter((e) => e.state === 'down' && e.lastError).map((e) => `  ${n.name} ${e.engine}: ${e.lastError!.message} (${ago(e.lastError!.at, now)})`));
  return `master ${s.master.url}\n\nrules version ${s.master.rulesVersion}\n\n${nodes}\n${errors.length ? `\nengines down:\n${errors.join('\n')}\n` : ''}`;
}

/** `spamassassin up 41ms`, `clamav DOWN`, `auth ?` (not yet seen). */
function engineCell(e: EngineView): string {
  if (e.state === 'down') return `${e.engine} DOWN`;
  if (e.state === 'unknown') return `${e.engine} ?`;
  return `${e.engine} up${e.p95Ms !== undefined ? ` ${Math.round(e.p95Ms)}ms` : ''}`;
}

export async function runStatus(client: MasterClient, json: boolean, out: NodeJS.WritableStream): Promise<number> {
  const status = await clusterStatus(client);
  out.write(json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status));
  return 0;
}
