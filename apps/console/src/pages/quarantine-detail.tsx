import { useState } from 'preact/hooks';
import { api, apiText, describe, query } from '../lib/api.ts';
import { putSender, type SenderList } from '../lib/sender-lists.ts';
import { bytes, when } from '../lib/format.ts';
import { useParsedMessage } from '../lib/mime.ts';
import { MessageView } from '../components/message-view.tsx';
import { LearnButtons } from '../components/learn-buttons.tsx';
import { can } from '../lib/roles.ts';
import { go } from '../lib/router.ts';
import { useData } from '../lib/use-data.ts';
import type { Me } from '../app.tsx';
import type { QuarantineEntry } from './quarantine-list.tsx';
import { visibleText } from '../lib/visible-text.ts';

interface Detail extends QuarantineEntry {
  rcptTo: string[];
  reasons: Array<{ kind: string; rule: string; match: string; score?: number }>;
}

export function QuarantineDetail({ id, me }: { id: string; me: Me }) {
  const detail = useData(() => api<Detail>('GET', `/quarantine/${id}`), [id]);
  const operator = can.handleQuarantine(me.role);
  const held = detail.data?.status === 'held';
  const nodes = useData(() => api<{ items: Array<{ id: string; name: string; online: boolean }> }>('GET', '/nodes'), [id]);
  const holder = nodes.data?.items.find((n) => n.id === detail.data?.nodeId);
  /** The content lives only on the node that quarantined it: while that node is offline there is nothing to fetch. */
  const offline = holder !== undefined && !holder.online;
  const raw = useData(() => (operator && held && (nodes.data !== undefined || nodes.error !== '') && !offline ? apiText(`/quarantine/${id}/raw`) : Promise.resolve(undefined)), [id, operator, held, offline, nodes.data === undefined && nodes.error === '']);
  const [notice, setNotice] = useState('');
  const [busy, setBusy] = useState(false);
  const act = async (action: 'release' | 'delete') => {
    if (action === 'delete' && !confirm('Delete this message for good?')) return;
    setBusy(true);
    try {
      await api(action === 'release' ? 'POST' : 'DELETE', action === 'release' ? `/quarantine/${id}/release` : `/quarantine/${id}`);
      setNotice(action === 'release' ? `Released: the node is delivering it${can.learn(me.role) ? ', and every scanner learns that it is not spam' : ''}.` : 'Deleted.');
      detail.reload();
    } catch (err) {
      setNotice(describe(err));
    } finally {
      setBusy(false);
    }
  };
  /**
   * An admin's "Release and allow sender" / "Block sender": the address goes into the rules'
   * sender list as a new version from the one just read (a change saved meanwhile is a 409,
   * told plainly); then the release, if asked.
   */
  const listSender = async (list: SenderList, release: boolean) => {
    const sender = detail.data?.mailFrom ?? '';
    if (list === 'senderBlock' && !confirm(`Block ${sender} for all mail? Its messages will be refused at MAIL FROM (550 5.7.1) on every node.`)) return;
    setBusy(true);
    setNotice('');
    try {
      const rules = await api<{ version: number; document: Record<string, unknown> }>('GET', '/rules');
      const change = putSender(rules.document, list, sender);
      const which = list === 'senderAllow' ? 'allowed' : 'blocked';
      let said = `${change.entry} was already ${which}.`;
      if (change.changed) {
        const saved = await api<{ version: number }>('PUT', `/rules${query({ baseVersion: rules.version, comment: `quarantine ${id}: ${which} sender ${change.entry}` })}`, change.doc);
        said = `${change.entry} is ${which} from rules version ${saved.version} on.`;
      }
      if (release) await api('POST', `/quarantine/${id}/release`);
      setNotice(release ? `Released, and ${said}` : `${said} The message stays held: delete it if you like.`);
      detail.reload();
    } catch (err) {
      setNotice(describe(err));
    } finally {
      setBusy(false);
    }
  };
  const d = detail.data;
  const msg = useParsedMessage(typeof raw.data === 'string' ? raw.data : undefined);
  return (
    <section>
      <p><a href="#/quarantine">← Quarantine</a></p>
      <h1>{d?.subject || '(no subject)'}</h1>
      {detail.error && <p class="error" role="alert">{detail.error}</p>}
      {notice && <p class="notice" role="status" data-testid="notice">{notice}</p>}
      {d && (
        <>
          <dl class="facts">
            <dt>Status</dt><dd data-testid="status">{d.status}</dd>
            <dt>Node</dt><dd>{d.nodeName ?? d.nodeId} {holder && <span class={holder.online ? 'pill ok' : 'pill bad'}>{holder.online ? 'online' : 'offline'}</span>}</dd>
            <dt>Quarantined</dt><dd>{when(d.createdAt)}</dd>
            <dt>Envelope from</dt><dd>{d.mailFrom || '<>'}</dd>
            <dt>Envelope to</dt><dd>{d.rcptTo.join(', ')}</dd>
            <dt>Size</dt><dd>{bytes(d.size)}</dd>
            <dt>Score</dt><dd>{d.score}</dd>
            <dt>Reasons</dt>
            <dd><ul>{d.reasons.map((r) => <li>{r.kind}: {visibleText(r.rule)} — {visibleText(r.match)}{r.score ? ` (+${r.score})` : ''}</li>)}</ul></dd>
          </dl>
          {held && offline && (
            <p class="error" role="alert" data-testid="node-offline">
              This message is held on node {holder?.name}, which is offline. Its content cannot be shown, released or deleted until the node reconnects;
              it stays safe in that node's quarantine meanwhile.
            </p>
          )}
          {operator && held && !offline && (
            <div class="actions">
              <button type="button" disabled={busy} onClick={() => act('release')}>Release</button>
              {can.editRules(me.role) && d.mailFrom !== '' && (
                <>
                  <button type="button" disabled={busy} onClick={() => void listSender('senderAllow', true)}>Release and allow sender</button>
                  <button type="button" class="secondary" disabled={busy} onClick={() => void listSender('senderBlock', false)}>Block sender…</button>
                </>
              )}
              <button type="button" class="danger" disabled={busy} onClick={() => act('delete')}>Delete</button>
              <a class="button" href={`/api/v1/quarantine/${id}/raw`} download={`${id}.eml`}>Download .eml</a>
              <button type="button" class="link" onClick={() => go('quarantine')}>Back to the list</button>
            </div>
          )}
          {can.learn(me.role) && held && !offline && <LearnButtons nodeId={d.nodeId} id={d.id} />}
        </>
      )}
      {raw.error && <p class="error" role="alert" data-testid="raw-error">{raw.error}</p>}
      {msg && <MessageView msg={msg} />}
    </section>
  );
}
