import { useState } from 'preact/hooks';
import { api, query } from '../lib/api.ts';
import { when } from '../lib/format.ts';
import { useData } from '../lib/use-data.ts';

interface AuditEntry {
  id: number;
  at: string;
  username: string;
  via: string;
  ip: string;
  action: string;
  target: string;
  details: Record<string, unknown>;
}

const PAGE = 50;
/** The actions the master records (apps/master/README.md, *Audit*), offered as suggestions. */
const ACTIONS = ['auth.login', 'auth.login_failed', 'auth.logout', 'auth.password_change', 'user.create', 'user.update', 'user.delete', 'token.create', 'token.revoke', 'rules.update', 'rules.rollback', 'quarantine.view', 'quarantine.release', 'quarantine.delete'];

/** The audit log, newest first: filter by user and action, page with Older/Newer. */
export function AuditPage() {
  const [filters, setFilters] = useState<{ username?: string; action?: string }>({});
  // The cursors of the pages shown so far; the last one is the current page.
  const [cursors, setCursors] = useState<Array<number | undefined>>([undefined]);
  const before = cursors.at(-1);
  const log = useData(() => api<{ entries: AuditEntry[]; next: number | null }>('GET', `/audit${query({ ...filters, before, limit: PAGE })}`), [filters, before]);
  const search = (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    setFilters({ username: String(f.get('username')).trim() || undefined, action: String(f.get('action')).trim() || undefined });
    setCursors([undefined]);
  };
  return (
    <section>
      <h1>Audit log</h1>
      <form class="filters" onSubmit={search}>
        <label>User <input name="username" autocomplete="off" /></label>
        <label>Action <input name="action" list="audit-actions" autocomplete="off" /></label>
        <datalist id="audit-actions">{ACTIONS.map((a) => <option value={a} />)}</datalist>
        <button type="submit">Filter</button>
      </form>
      {log.error && <p class="error" role="alert">{log.error}</p>}
      <div class="table-wrap">
        <table data-testid="audit">
          <thead><tr><th>When</th><th>User</th><th>Action</th><th>Target</th><th>Details</th><th>Via</th><th>Address</th></tr></thead>
          <tbody>
            {log.data?.entries.map((e) => (
              <tr data-action={e.action}>
                <td>{when(e.at)}</td><td>{e.username}</td><td><code>{e.action}</code></td><td>{e.target}</td>
                <td class="details">{Object.keys(e.details).length > 0 ? <code>{JSON.stringify(e.details)}</code> : ''}</td>
                <td>{e.via}</td><td>{e.ip}</td>
              </tr>
            ))}
            {log.data?.entries.length === 0 && <tr><td colSpan={7}>Nothing matches.</td></tr>}
          </tbody>
        </table>
      </div>
      <div class="actions">
        <button type="button" disabled={cursors.length <= 1} onClick={() => setCursors(cursors.slice(0, -1))}>Newer</button>
        <span class="hint" data-testid="audit-page">Page {cursors.length}</span>
        <button type="button" disabled={!log.data?.next} onClick={() => setCursors([...cursors, log.data!.next!])}>Older</button>
      </div>
    </section>
  );
}
