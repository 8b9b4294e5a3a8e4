import { api } from '../lib/api.ts';
import { bytes, when } from '../lib/format.ts';
import { useData } from '../lib/use-data.ts';
import { can } from '../lib/roles.ts';
import { RetainedCopy, type Retained } from '../components/retained-copy.tsx';
import { LearnButtons } from '../components/learn-buttons.tsx';
import type { Me } from '../app.tsx';
import { visibleText } from '../lib/visible-text.ts';

interface Detail {
  id: string;
  nodeId: string;
  nodeName: string | null;
  receivedAt: string;
  clientIp: string;
  helo: string;
  mailFrom: string;
  rcptTo: string[];
  subject: string;
  messageId: string;
  size: number;
  action: string;
  score: number;
  status: string;
  rulesVersion: number;
  reasons: Array<{ kind: string; rule: string; match: string; action?: string; score?: number }>;
  delivery: { attempts: number; lastAttemptAt: string | null; delivered: string[]; deferred: string[]; bounced: string[]; detail: string; dsnStatus: string | null };
  quarantine: { status: string; statusAt: string | null } | null;
  retained: Retained | null;
  refusal: { stage: string; reply: string; count: number; firstAt: string; lastAt: string } | null;
}

const STAGES: Record<string, string> = { connect: 'at connect', mail: 'at MAIL FROM', rcpt: 'at RCPT TO' };

const list = (xs: string[]) => (xs.length === 0 ? '—' : xs.join(', '));

/** One message of the central log: its verdict with every reason, and what became of its delivery. */
export function MessageDetail({ nodeId, id, me }: { nodeId: string; id: string; me: Me }) {
  const path = `/messages/${encodeURIComponent(nodeId)}/${encodeURIComponent(id)}`;
  const m = useData(() => api<Detail>('GET', path), [nodeId, id]);
  const d = m.data;
  return (
    <section>
      <p><a href="#/messages">← Message tracking</a></p>
      <h1>{d ? (d.refusal ? `Refused ${STAGES[d.refusal.stage] ?? d.refusal.stage}` : d.subject || '(no subject)') : 'Message'}</h1>
      {m.error && <p class="error" role="alert">{m.error}</p>}
      {d && (
        <>
          <dl class="facts" data-testid="message-detail">
            <dt>Verdict</dt><dd><span class={`pill v-${d.action}`} data-testid="verdict">{d.action}</span> score {d.score} (rules version {d.rulesVersion})</dd>
            <dt>Status</dt><dd data-testid="message-status">{d.status}</dd>
            {d.refusal && (
              <>
                <dt>Refused</dt>
                <dd data-testid="refusal">{STAGES[d.refusal.stage] ?? d.refusal.stage}: <code>{d.refusal.reply}</code></dd>
                {d.refusal.count > 1 && (<><dt>Refusals</dt><dd>{d.refusal.count} from this client between {when(d.refusal.firstAt)} and {when(d.refusal.lastAt)} (one entry for all)</dd></>)}
              </>
            )}
            <dt>Received</dt><dd>{when(d.receivedAt)} on {d.nodeName ?? d.nodeId}, queue id <code>{d.id}</code></dd>
            <dt>Client</dt><dd>{d.clientIp} (HELO {d.helo || '—'})</dd>
            <dt>Envelope from</dt><dd>{d.mailFrom || '<>'}</dd>
            <dt>Envelope to</dt><dd>{d.rcptTo.join(', ')}</dd>
            <dt>Message-ID</dt><dd>{d.messageId || '—'}</dd>
            <dt>Size</dt><dd>{bytes(d.size)}</dd>
            {d.quarantine && (
              <>
                <dt>Quarantine</dt>
                <dd>{d.quarantine.status}{d.quarantine.statusAt ? ` since ${when(d.quarantine.statusAt)}` : ''} — <a href={`#/quarantine/${encodeURIComponent(d.id)}`}>open in quarantine</a></dd>
              </>
            )}
          </dl>
          {!d.refusal && can.testMessages(me.role) && (d.retained?.status === 'kept' || d.quarantine?.status === 'held') && (
            <p><a href={`#/test/${encodeURIComponent(d.nodeId)}/${encodeURIComponent(d.id)}`} data-testid="test-this">What would happen to it now?</a> Test its kept copy against the current rules or a draft.</p>
          )}
          {!d.refusal && can.learn(me.role) && (
            <>
              <h2>Teach the filter</h2>
              {d.retained?.status === 'kept' || d.quarantine?.status === 'held'
                ? <LearnButtons nodeId={d.nodeId} id={d.id} />
                : <p class="hint" data-testid="learn-unavailable">No copy of this message is kept (not retained, not held in quarantine): there is nothing to learn from.</p>}
            </>
          )}
          <h2>Reasons</h2>
          {d.reasons.length === 0 ? <p class="hint">No filter matched.</p> : (
            <div class="table-wrap">
              <table data-testid="reasons">
                <thead><tr><th>Filter</th><th>Rule</th><th>Matched</th><th>Asked for</th><th>Score</th></tr></thead>
                <tbody>{d.reasons.map((r) => <tr><td>{r.kind}</td><td>{visibleText(r.rule)}</td><td>{visibleText(r.match)}</td><td>{r.action ?? '—'}</td><td>{r.score ?? ''}</td></tr>)}</tbody>
              </table>
            </div>
          )}
          {!d.refusal && <h2>Delivery</h2>}
          {!d.refusal && <dl class="facts" data-testid="delivery">
            <dt>Attempts</dt><dd>{d.delivery.attempts}{d.delivery.lastAttemptAt ? `, last ${when(d.delivery.lastAttemptAt)}` : ''}</dd>
            <dt>Delivered to</dt><dd>{list(d.delivery.delivered)}</dd>
            <dt>Deferred</dt><dd>{list(d.delivery.deferred)}</dd>
            <dt>Bounced</dt><dd>{list(d.delivery.bounced)}</dd>
            <dt>Last reply</dt><dd>{d.delivery.detail || '—'}</dd>
            {d.delivery.dsnStatus && (<><dt>Bounce notice</dt><dd>{d.delivery.dsnStatus}</dd></>)}
          </dl>}
          {!d.refusal && <h2>Retained copy</h2>}
          {!d.refusal && <RetainedCopy path={path} nodeName={d.nodeName ?? d.nodeId} retained={d.retained} operator={can.handleQuarantine(me.role)} />}
        </>
      )}
    </section>
  );
}
