import { api } from '../lib/api.ts';
import { bytes } from '../lib/format.ts';
import { VERDICTS } from '../lib/chart-series.ts';
import { diskUse, nodeLines, perSecond, type Rate, type Trends } from '../lib/trends.ts';
import { useData } from '../lib/use-data.ts';
import { LineChart } from './line-chart.tsx';

/** On a narrow screen the table keeps the node, accepted, quarantined and the total. */
const NARROW_HIDDEN: ReadonlySet<string> = new Set(['tag', 'reject']);

function RateCells({ rate }: { rate: Rate | null }) {
  return (
    <>
      {VERDICTS.map(([key]) => <td class={NARROW_HIDDEN.has(key) ? 'num wide' : 'num'} data-verdict={key}>{perSecond(rate?.[key])}</td>)}
      <td class="num" data-verdict="total"><strong>{perSecond(rate?.total)}</strong></td>
    </>
  );
}

/**
 * What the cluster does now (GET /api/v1/nodes/trends): messages a second by verdict over the
 * last minute, per node and for the cluster; each node's relay queue, outbox and disk use over
 * the last hour as uPlot lines; and each budgeted store's use against its budget.
 */
export function ActivityPanel({ refreshMs }: { refreshMs: number }) {
  const trends = useData(() => api<Trends>('GET', '/nodes/trends'), [], refreshMs);
  const t = trends.data;
  if (trends.error) return <p class="error" role="alert">{trends.error}</p>;
  if (!t) return null;
  const onDisk = (s: { quarantineBytes?: number; retainedBytes?: number }) => (s.quarantineBytes === undefined ? undefined : s.quarantineBytes + (s.retainedBytes ?? 0));
  return (
    <>
      <h2>Throughput now <small>messages a second over the last {t.windowSeconds} s</small></h2>
      <div class="table-wrap">
        <table data-testid="throughput">
          <thead>
            <tr><th>Node</th>{VERDICTS.map(([key, label]) => <th class={NARROW_HIDDEN.has(key) ? 'num wide' : 'num'}>{label}</th>)}<th class="num">total</th></tr>
          </thead>
          <tbody>
            {t.nodes.map((n) => (
              <tr data-node={n.name}>
                <td>{n.name}{!n.online && ' (offline)'}</td>
                <RateCells rate={n.throughput} />
              </tr>
            ))}
            <tr data-node="" class="sum"><td><strong>Cluster</strong></td><RateCells rate={t.cluster.throughput} /></tr>
          </tbody>
        </table>
      </div>
      <h2>Queue, outbox and disk <small>each node over the last hour, times in UTC</small></h2>
      <div class="trends">
        <LineChart testid="trend-queue" label="Relay queue" unit="messages" lines={nodeLines(t.nodes, (s) => s.queueDepth)} />
        <LineChart testid="trend-outbox" label="Outbox (events not yet at the master)" unit="events" lines={nodeLines(t.nodes, (s) => s.outboxBacklog)} />
        <LineChart testid="trend-disk" label="Quarantine and retained copies on disk" unit="bytes" format={bytes} axisSize={76} lines={nodeLines(t.nodes, onDisk)} />
      </div>
      <div class="table-wrap">
        <table data-testid="disk">
          <thead><tr><th>Node</th><th>Quarantine</th><th>Retained copies</th></tr></thead>
          <tbody>
            {t.nodes.map((n) => {
              const use = n.disk ? diskUse(n.disk) : [];
              const cell = (store: 'quarantine' | 'retention') => {
                const u = use.find((x) => x.store === store);
                if (!u) return <td>{n.disk ? 'off' : '—'}</td>;
                return <td data-store={store}>{u.percent !== null && <meter min={0} max={100} high={80} optimum={0} value={u.percent} aria-label={`${n.name} ${store}`} />} {u.text}</td>;
              };
              return <tr data-node={n.name}><td>{n.name}</td>{cell('quarantine')}{cell('retention')}</tr>;
            })}
          </tbody>
        </table>
      </div>
    </>
  );
}
