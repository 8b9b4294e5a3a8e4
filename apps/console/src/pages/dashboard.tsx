import { api } from '../lib/api.ts';
import { ago, when } from '../lib/format.ts';
import { useData } from '../lib/use-data.ts';
import { TrafficChart, type TrafficRow } from '../components/traffic-chart.tsx';

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
}

const REFRESH_MS = 10_000;

export function Dashboard() {
  const nodes = useData(() => api<{ items: NodeView[] }>('GET', '/nodes'), [], REFRESH_MS);
  const rules = useData(() => api<{ version: number }>('GET', '/rules'), [], REFRESH_MS);
  const traffic = useData(() => {
    const from = new Date(Date.now() - 24 * 3600_000).toISOString();
    return api<{ rows: TrafficRow[] }>('GET', `/reports/traffic?bucket=hour&from=${encodeURIComponent(from)}`);
  }, [], REFRESH_MS);

  return (
    <section>
      <h1>Dashboard</h1>
      <h2>Nodes {rules.data && <small>current rules version {rules.data.version}</small>}</h2>
      {nodes.error && <p class="error" role="alert">{nodes.error}</p>}
      <div class="table-wrap">
        <table data-testid="nodes">
          <thead>
            <tr><th>Node</th><th>State</th><th>Last seen</th><th>Rules</th><th>Queue</th><th>Outbox</th><th>Software</th><th>SMTP</th></tr>
          </thead>
          <tbody>
            {nodes.data?.items.map((n) => (
              <tr data-node={n.name}>
                <td>{n.name}</td>
                <td><span class={n.online ? 'pill ok' : 'pill bad'}>{n.online ? 'online' : 'offline'}</span></td>
                <td title={when(n.lastSeen)}>{ago(n.lastSeen)}</td>
                <td class={n.rulesCurrent ? '' : 'behind'} data-testid="rules-version">
                  v{n.rulesVersion}{n.rulesCurrent ? '' : ' (behind)'}
                </td>
                <td>{n.queueDepth}</td>
                <td>{n.outboxBacklog}</td>
                <td>{n.software}</td>
                <td>{n.smtpAddress}</td>
              </tr>
            ))}
            {nodes.data?.items.length === 0 && <tr><td colSpan={8}>No scanner has joined yet.</td></tr>}
          </tbody>
        </table>
      </div>
      <h2>Traffic, last 24 hours</h2>
      {traffic.error && <p class="error" role="alert">{traffic.error}</p>}
      {traffic.data && <TrafficChart rows={traffic.data.rows} label="Messages per hour over the last 24 hours, by verdict" />}
      <p class="hint">Refreshed every {REFRESH_MS / 1000} s.</p>
    </section>
  );
}
