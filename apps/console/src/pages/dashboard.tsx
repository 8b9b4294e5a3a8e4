import { useState } from 'preact/hooks';
import { api, describe } from '../lib/api.ts';
import { can } from '../lib/roles.ts';
import type { Me } from '../app.tsx';
import { ago, when } from '../lib/format.ts';
import { useData } from '../lib/use-data.ts';
import { TrafficChart, type TrafficRow } from '../components/traffic-chart.tsx';
import { EnginesPanel } from '../components/engines-panel.tsx';
import { LearningPanel } from '../components/learning-panel.tsx';
import { ActivityPanel } from '../components/activity-panel.tsx';

interface NodeView {
  id: string;
  name: string;
  online: boolean;
  lastSeen: string | null;
  software: string;
  smtpAddress: string;
  rulesVersion: number;
  rulesCurrent: boolean;
  queueDepth: number;
  outboxBacklog: number;
  /** The node's embedded balancer, when it runs one (from its last heartbeat). */
  balancer?: {
    holder: boolean;
    election: { state: string; priority: number } | null;
    upstreams: { name: string; usable: boolean }[];
  };
}

/** "holds it" / "backup (prio 100)" / "—": who has the virtual SMTP address. */
function virtualAddress(n: NodeView): string {
  const lb = n.balancer;
  if (!lb) return '—';
  const healthy = lb.upstreams.filter((u) => u.usable).length;
  const role = lb.holder ? 'holds it' : lb.election ? `${lb.election.state.toLowerCase()} (prio ${lb.election.priority})` : 'standby';
  return `${role}; ${healthy}/${lb.upstreams.length} upstreams up`;
}

const REFRESH_MS = 10_000;

export function Dashboard({ me }: { me: Me }) {
  const admin = can.manageNodes(me.role);
  const [notice, setNotice] = useState('');
  const nodes = useData(() => api<{ items: NodeView[] }>('GET', '/nodes'), [], REFRESH_MS);
  const rules = useData(() => api<{ version: number }>('GET', '/rules'), [], REFRESH_MS);
  const traffic = useData(() => {
    const from = new Date(Date.now() - 24 * 3600_000).toISOString();
    return api<{ rows: TrafficRow[] }>('GET', `/reports/traffic?bucket=hour&from=${encodeURIComponent(from)}`);
  }, [], REFRESH_MS);

  /** An offline node an admin decommissioned: out of the list, its public key erased (the API refuses a connected one). */
  const remove = async (n: NodeView) => {
    if (!confirm(`Remove ${n.name} from the cluster? Its key is erased: it can only come back with a new join token. Mail still in its quarantine or queue stays on its disk.`)) return;
    try {
      await api('DELETE', `/nodes/${n.id}`);
      setNotice(`${n.name} removed from the cluster.`);
      nodes.reload();
    } catch (err) {
      setNotice(describe(err));
    }
  };
  /** A one-time join token for a node name (shown once); for a name in the cluster, only as an explicit key replacement. */
  const [joinToken, setJoinToken] = useState<{ node: string; token: string; expiresAt: string } | null>(null);
  const makeJoinToken = async () => {
    const node = prompt('Node name of the scanner to join (its node.name):')?.trim();
    if (!node) return;
    const replace = nodes.data?.items.some((n) => n.name === node) ?? false;
    if (replace && !confirm(`${node} is in the cluster. A token for it gives its name a new key: its current key is refused once the new one joins. Continue?`)) return;
    try {
      const made = await api<{ node: string; token: string; expiresAt: string }>('POST', '/nodes/join-tokens', { node, replace });
      setJoinToken(made);
      setNotice('');
    } catch (err) {
      setNotice(describe(err));
    }
  };
  return (
    <section>
      <h1>Dashboard</h1>
      <h2>Nodes {rules.data && <small>current rules version {rules.data.version}</small>}</h2>
      {admin && <p><button type="button" class="small" data-testid="join-token" onClick={() => void makeJoinToken()}>Join token…</button></p>}
      {joinToken && (
        <p class="notice" role="status" data-testid="join-token-value">
          Join token for <strong>{joinToken.node}</strong>, usable once until {when(joinToken.expiresAt)} (shown only now; set it as <code>MOAT_JOIN_TOKEN</code> on that scanner):{' '}
          <code>{joinToken.token}</code>
        </p>
      )}
      {nodes.error && <p class="error" role="alert">{nodes.error}</p>}
      {notice && <p class="notice" role="status" data-testid="notice">{notice}</p>}
      <div class="table-wrap">
        <table data-testid="nodes">
          <thead>
            <tr><th>Node</th><th>State</th><th class="wide">Last seen</th><th>Rules</th><th>Queue</th><th class="wide">Outbox</th><th class="wide">Software</th><th class="wide">SMTP</th><th class="wide">Virtual address</th>{admin && <th />}</tr>
          </thead>
          <tbody>
            {nodes.data?.items.map((n) => (
              <tr data-node={n.name}>
                <td>{n.name}</td>
                <td><span class={n.online ? 'pill ok' : 'pill bad'}>{n.online ? 'online' : 'offline'}</span></td>
                <td class="wide" title={when(n.lastSeen)}>{ago(n.lastSeen)}</td>
                <td class={n.rulesCurrent ? '' : 'behind'} data-testid="rules-version">
                  v{n.rulesVersion}{n.rulesCurrent ? '' : ' (behind)'}
                </td>
                <td>{n.queueDepth}</td>
                <td class="wide">{n.outboxBacklog}</td>
                <td class="wide">{n.software}</td>
                <td class="wide">{n.smtpAddress}</td>
                <td class="wide">{virtualAddress(n)}</td>
                {admin && <td>{!n.online && <button type="button" class="small danger" onClick={() => remove(n)}>Remove…</button>}</td>}
              </tr>
            ))}
            {nodes.data?.items.length === 0 && <tr><td colSpan={admin ? 10 : 9}>No scanner has joined yet.</td></tr>}
          </tbody>
        </table>
      </div>
      <ActivityPanel refreshMs={REFRESH_MS} />
      <EnginesPanel refreshMs={REFRESH_MS} />
      <LearningPanel refreshMs={REFRESH_MS} />
      <h2>Traffic, last 24 hours</h2>
      {traffic.error && <p class="error" role="alert">{traffic.error}</p>}
      {traffic.data && <TrafficChart rows={traffic.data.rows} bucket="hour" label="Messages per hour over the last 24 hours, by verdict" />}
      <p class="hint">Refreshed every {REFRESH_MS / 1000} s.</p>
    </section>
  );
}
