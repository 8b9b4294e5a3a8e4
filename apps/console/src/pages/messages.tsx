import { useState } from 'preact/hooks';
import { api, query } from '../lib/api.ts';
import { bytes, when } from '../lib/format.ts';
import { useHashQuery } from '../lib/router.ts';
import { localSeconds, rangeFromInputs } from '../lib/time-range.ts';
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

const FILTER_KEYS = ['sender', 'recipient', 'subject', 'node', 'action', 'status', 'from', 'to', 'cursor'] as const;

/**
 * The central message log: search by sender, recipient, subject, node, verdict, status and a
 * received from/to range. The search lives in the URL (`#/messages?from=…&to=…`, times in ISO
 * UTC), so reloading or sharing the link shows the same search.
 */
export function MessagesPage() {
  const url = useHashQuery();
  const filters: Record<string, string> = Object.fromEntries(FILTER_KEYS.filter((k) => url[k]).map((k) => [k, url[k]!]));
  const key = query(filters);
  const [rangeError, setRangeError] = useState<{ field: 'from' | 'to'; error: string } | null>(null);
  const list = useData(() => api<{ items: MessageSummary[]; next: string | null }>('GET', `/messages${query({ ...filters, match: filters.sender || filters.recipient ? 'contains' : undefined })}`), [key]);
  const show = (next: Record<string, string>) => {
    location.hash = `#/messages${query(next)}`;
  };
  const search = (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    const range = rangeFromInputs(String(f.get('fromLocal') ?? ''), String(f.get('toLocal') ?? ''));
    if ('error' in range) {
      setRangeError(range);
      return;
    }
    setRangeError(null);
    const fields = Object.fromEntries([...f.entries()].filter(([k]) => k !== 'fromLocal' && k !== 'toLocal').map(([k, v]) => [k, String(v)]).filter(([, v]) => v !== ''));
    show({ ...fields, ...range });
  };
  return (
    <section>
      <h1>Message tracking</h1>
      <form class="filters" onSubmit={search} key={key} data-testid="messages-search">
        <label>Sender <input name="sender" defaultValue={filters.sender ?? ''} /></label>
        <label>Recipient <input name="recipient" defaultValue={filters.recipient ?? ''} /></label>
        <label>Subject <input name="subject" defaultValue={filters.subject ?? ''} /></label>
        <label>Node <input name="node" defaultValue={filters.node ?? ''} /></label>
        <label>Verdict
          <select name="action"><option value="">any</option>{['deliver', 'tag', 'quarantine', 'reject'].map((v) => <option selected={filters.action === v}>{v}</option>)}</select>
        </label>
        <label>Status
          <select name="status">
            <option value="">any</option>
            {['queued', 'delivered', 'deferred', 'bounced', 'partially-bounced', 'quarantined', 'rejected', 'refused'].map((v) => <option selected={filters.status === v}>{v}</option>)}
          </select>
        </label>
        <label for="messages-from">Received from
          <input id="messages-from" name="fromLocal" type="datetime-local" step="1" defaultValue={localSeconds(filters.from)} aria-invalid={rangeError?.field === 'from'} {...(rangeError?.field === 'from' ? { 'aria-describedby': 'messages-range-error' } : {})} />
        </label>
        <label for="messages-to">to
          <input id="messages-to" name="toLocal" type="datetime-local" step="1" defaultValue={localSeconds(filters.to)} aria-invalid={rangeError?.field === 'to'} {...(rangeError?.field === 'to' ? { 'aria-describedby': 'messages-range-error' } : {})} />
        </label>
        <button type="submit">Search</button>
        {key !== '' && <button type="button" onClick={() => { setRangeError(null); show({}); }}>Clear</button>}
      </form>
      {rangeError && <p class="error" role="alert" id="messages-range-error" data-field-error={rangeError.field}>{rangeError.error}</p>}
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
      {list.data?.next && <button type="button" onClick={() => show({ ...filters, cursor: list.data!.next! })}>Older</button>}
    </section>
  );
}
