import { api } from '../lib/api.ts';
import { ago, when } from '../lib/format.ts';
import { useData } from '../lib/use-data.ts';

/** One analyzer's engine on a node (GET /api/v1/nodes `engines`; scanners of protocol 5). */
interface EngineView {
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
interface NodeEngines {
  name: string;
  online: boolean;
  engines?: { reportedAt: string; items: EngineView[] };
}

const ms = (v: number | undefined) => (v === undefined ? '—' : `${v < 10 ? v.toFixed(1) : Math.round(v)} ms`);

/**
 * Each scanner's engines (clamav, rspamd, spamassassin, auth, dnsbl, uribl): up or down as its
 * last scan or probe found it, scan time p50/p95 and errors over the last minutes, the last
 * error and when. From each node's heartbeat; an offline node shows its last word, marked so.
 */
export function EnginesPanel({ refreshMs }: { refreshMs: number }) {
  const nodes = useData(() => api<{ items: NodeEngines[] }>('GET', '/nodes'), [], refreshMs);
  const reporting = (nodes.data?.items ?? []).filter((n) => n.engines && n.engines.items.length > 0);
  if (reporting.length === 0) return null;
  const window = reporting[0]!.engines!.items[0]!.windowSeconds;
  return (
    <>
      <h2>Engines <small>scan time and errors over the last {Math.round(window / 60)} minutes</small></h2>
      <div class="table-wrap">
        <table data-testid="engines">
          <thead>
            <tr><th>Node</th><th>Engine</th><th>State</th><th>p50 / p95</th><th class="wide">Scans</th><th class="wide">Errors</th><th>Last error</th></tr>
          </thead>
          <tbody>
            {reporting.flatMap((n) => n.engines!.items.map((e) => (
              <tr data-node={n.name} data-engine={e.engine}>
                <td>{n.name}{n.online ? '' : ' (offline: last report)'}</td>
                <td>{e.engine}</td>
                <td data-testid="engine-state" title={e.checkedAt ? `checked ${when(e.checkedAt)}` : 'not seen yet'}>
                  <span class={e.state === 'up' ? 'pill ok' : e.state === 'down' ? 'pill bad' : 'pill'}>{e.state === 'unknown' ? 'not seen yet' : e.state}</span>
                </td>
                <td>{ms(e.p50Ms)} / {ms(e.p95Ms)}</td>
                <td class="wide">{e.samples}</td>
                <td class={e.errors > 0 ? 'wide behind' : 'wide'}>{e.errors}</td>
                <td data-testid="engine-error" title={e.lastError ? when(e.lastError.at) : ''}>{e.lastError ? `${e.lastError.message} (${ago(e.lastError.at)})` : '—'}</td>
              </tr>
            )))}
          </tbody>
        </table>
      </div>
    </>
  );
}
