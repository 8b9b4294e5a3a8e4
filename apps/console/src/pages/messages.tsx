import { useState } from 'preact/hooks';
import { api, query } from '../lib/api.ts';
import { bytes, when } from '../lib/format.ts';
import { useData } from '../lib/use-data.ts';

interface MessageSummary {
  id: string;
  nodeName: string | null;
  nodeId: string;
  receivedAt: string;
  mailFrom: string;
  firstRcpt: string;
  rcptCount: number;
  subject: string;
  size: number;
  action: string;
  score: number;
  status: string;
}

/** The central message log: search by sender, recipient, subject, node and verdict. */
export function MessagesPage() {
  const [filters, setFilters] = useState<Record<string, string>>({});
  const list = useData(() => api<{ items: MessageSummary[]; next: string | null }>('GET', `/messages${query({ ...filters, match: filters.sender || filters.recipient ? 'contains' : undefined })}`), [filters]);
  const search = (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    setFilters(Object.fromEntries([...f.entries()].map(([k, v]) => [k, String(v)]).filter(([, v]) => v !== '')));
  };
  return (
    <section>
      <h1>Message tracking</h1>
      <form class="filters" onSubmit={search}>
        <label>Sender <input name="sender" /></label>
        <label>Recipient <input name="recipient" /></label>
        <label>Subject <input name="subject" /></label>
        <label>Node <input name="node" /></label>
        <label>Verdict
          <select name="action"><option value="">any</option><option>deliver</option><option>tag</option><option>quarantine</option><option>reject</option></select>
        </label>
        <label>Status
          <select name="status">
            <option value="">any</option>
            {['queued', 'delivered', 'deferred', 'bounced', 'partially-bounced', 'quarantined', 'rejected', 'refused'].map((v) => <option>{v}</option>)}
          </select>
        </label>
        <button type="submit">Search</button>
      </form>
      {list.error && <p class="error" role="alert">{list.error}</p>}
      <div class="table-wrap">
        <table data-testid="messages">
          <thead><tr><th class="wide">Received</th><th>From</th><th class="wide">To</th><th>Subject</th><th class="wide">Node</th><th>Verdict</th><th class="wide">Status</th><th class="wide">Size</th></tr></thead>
          <tbody>
            {list.data?.items.map((m) => (
              <tr data-id={m.id}>
                <td class="wide">{when(m.receivedAt)}</td><td>{m.mailFrom || '<>'}</td><td class="wide">{m.firstRcpt}{m.rcptCount > 1 ? ` +${m.rcptCount - 1}` : ''}</td>
                <td><a href={`#/messages/${encodeURIComponent(m.nodeId)}/${encodeURIComponent(m.id)}`}>{m.subject || (m.status === 'refused' ? '(refused before DATA)' : '(no subject)')}</a></td><td class="wide">{m.nodeName ?? m.nodeId}</td><td><span class={`pill v-${m.action}`}>{m.action}</span> {m.score}</td><td class="wide">{m.status}</td><td class="wide">{bytes(m.size)}</td>
              </tr>
            ))}
            {list.data?.items.length === 0 && <tr><td colSpan={8}>Nothing matches.</td></tr>}
          </tbody>
        </table>
      </div>
      {list.data?.next && <button type="button" onClick={() => setFilters({ ...filters, cursor: list.data!.next! })}>Older</button>}
    </section>
  );
}
