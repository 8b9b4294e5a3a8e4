import { useState } from 'preact/hooks';
import { api, ApiError } from '../lib/api.ts';
import { useData } from '../lib/use-data.ts';

/** GET /api/v1/cluster/masters (management failover, docs/masters.md). */
interface MastersView {
  name: string;
  role: 'active' | 'standby';
  epoch: number;
  election: { state: string; priority: number; master: string | null } | null;
  witness: string | null;
  standbys: { name: string; address: string; ackedSeq: number; lagEvents: number; lagSeconds: number }[];
}

/**
 * The masters: this (active) one, its epoch and each standby's replication lag. Shown only
 * when the master runs with failover: the route does not exist otherwise, so it is asked once,
 * and polled only once it has answered (a 404 every refresh would fill the master's log).
 */
export function MastersPanel({ refreshMs }: { refreshMs: number }) {
  const [absent, setAbsent] = useState(false);
  const masters = useData(() => {
    if (absent) return Promise.resolve(undefined);
    return api<MastersView>('GET', '/cluster/masters').catch((err: unknown) => {
      if (err instanceof ApiError && err.status === 404) setAbsent(true);
      throw err;
    });
  }, [absent], absent ? undefined : refreshMs);
  const m = masters.data;
  if (!m) return null;
  return (
    <>
      <h2>Masters <small>epoch {m.epoch}</small></h2>
      <div class="table-wrap">
        <table data-testid="masters">
          <thead>
            <tr><th>Master</th><th>Role</th><th>Replication lag</th><th>Address</th></tr>
          </thead>
          <tbody>
            <tr data-master={m.name}>
              <td>{m.name}</td>
              <td><span class="pill ok">{m.role}</span>{m.election ? ` (prio ${m.election.priority})` : ''}</td>
              <td>—</td>
              <td>this one{m.witness ? `; witness ${m.witness}` : ''}</td>
            </tr>
            {m.standbys.map((s) => (
              <tr data-master={s.name}>
                <td>{s.name}</td>
                <td><span class="pill">standby</span></td>
                <td class={s.lagEvents > 0 ? 'behind' : ''} data-testid="standby-lag">{s.lagEvents} events, {s.lagSeconds.toFixed(1)} s</td>
                <td>{s.address}</td>
              </tr>
            ))}
            {m.standbys.length === 0 && <tr><td colSpan={4} class="behind">No standby follows: a failure of this master now means a manual restore.</td></tr>}
          </tbody>
        </table>
      </div>
    </>
  );
}
