import { useState } from 'preact/hooks';
import { api, ApiError, describe, query } from '../lib/api.ts';
import { ago, when } from '../lib/format.ts';
import { can } from '../lib/roles.ts';
import { useData } from '../lib/use-data.ts';
import { fieldErrors } from '../lib/field-errors.ts';
import { describeStaleRules, isStaleRules } from '../lib/stale-rules.ts';
import { Field } from '../components/field.tsx';
import type { Me } from '../app.tsx';
import {
  acceptedOf, applyDomain, bare, emptyForm, entriesOf, formFor, removeDomain, routesOf, rulesProblems, storeInUse, storeOf, storeProblems, verifiedOf,
  type Doc, type DomainForm, type Errors, type LdapView, type Route, type StoreView, type Verified,
} from '../lib/domains-model.ts';

interface Stored { version: number; document: Doc }
interface NodeHealth {
  nodeId: string; name: string; online: boolean; reportedAt: string;
  last: { state: 'up' | 'down' | 'loop'; host?: string; error?: string; at: string; delivered: number; deferred: number } | null;
}
interface RouteView { route: string; nodes: NodeHealth[] }
interface SourceView { name: string; source: StoreView | (LdapView & { bindPassword: string }); updatedAt: string; updatedBy: string }
interface TestAnswer { node: string; address: string; lookedUp: string | null; source: string | null; outcome: 'accepted' | 'unknown' | 'unavailable' | 'refused' | 'not-verified'; detail: string; reply: string; cached: boolean }

const ROUTES_REFRESH_MS = 10_000;

/**
 * Accepted domains (admin: add, edit, remove) with their route and its health on each node, and
 * their recipient verification; "Test this address" runs the lookup on a scanner. A domain is
 * saved as one rules version (`acceptedDomains`, `routing`, `recipientVerification`, from the
 * version the page loaded); its static list or directory goes to the verification store first.
 */
export function DomainsPage({ me }: { me: Me }) {
  const admin = can.editRules(me.role);
  const rules = useData(() => api<Stored>('GET', '/rules'), []);
  const routes = useData(() => api<{ items: RouteView[] }>('GET', '/routes'), [], ROUTES_REFRESH_MS);
  const sources = useData(() => (admin ? api<{ sources: SourceView[] }>('GET', '/verification/sources') : Promise.resolve({ sources: [] })), [admin]);
  const [editing, setEditing] = useState<{ original: string | undefined; form: DomainForm } | undefined>(undefined);
  const [errors, setErrors] = useState<Errors>({});
  const [notice, setNotice] = useState('');
  const [busy, setBusy] = useState(false);

  const doc = rules.data?.document;
  const reload = () => (rules.reload(), routes.reload(), sources.reload());
  const source = (name: string) => sources.data?.sources.find((s) => s.name === name);

  const open = (domain: string | undefined) => {
    setErrors({});
    setNotice('');
    if (!doc || domain === undefined) return setEditing({ original: undefined, form: emptyForm() });
    const v = verifiedOf(doc).find((d) => bare(d.domain) === bare(domain));
    const stored = v && v.source !== 'callout' ? source(storeOf(v))?.source : undefined;
    setEditing({ original: domain, form: formFor(doc, domain, stored) });
  };

  const save = async (e: Event) => {
    e.preventDefault();
    if (!editing || !rules.data) return;
    const { original, form } = editing;
    setNotice('');
    const applied = applyDomain(rules.data.document, original, form);
    if ('errors' in applied) return setErrors(applied.errors);
    setBusy(true);
    try {
      // The list or directory first, so the rules never name a store entry the scanners lack.
      const undo = await saveStore(form);
      if ('errors' in undo) return setErrors(undo.errors);
      const action = original === undefined ? 'add' : 'edit';
      try {
        await api('PUT', `/rules${query({ baseVersion: rules.data.version, comment: `domains: ${action} ${bare(form.domain)}` })}`, applied.doc);
      } catch (err) {
        await undo.undo?.().catch(() => undefined);
        if (err instanceof ApiError && isStaleRules(err.code, err.details)) return setErrors({ '': describeStaleRules(err.details).headline });
        return setErrors(err instanceof ApiError && err.fieldProblems.length > 0 ? rulesProblems(err.fieldProblems, applied.placement) : { '': describe(err) });
      }
      await dropUnused(rules.data.document, applied.doc, original);
      setErrors({});
      setEditing(undefined);
      setNotice(`${bare(form.domain)} saved; the scanners apply it with the new rules version.`);
      reload();
    } finally {
      setBusy(false);
    }
  };

  /** PUT the form's store entry; how to put the store back if the rules are then refused. */
  const saveStore = async (f: DomainForm): Promise<{ undo?: () => Promise<unknown> } | { errors: Errors }> => {
    if (f.source !== 'static' && f.source !== 'ldap') return {};
    const name = f.store.trim() || bare(f.domain).replace(/^\*\./, '');
    const entries = entriesOf(f.entries);
    const body = f.source === 'static'
      ? { kind: 'static', entries }
      : { kind: 'ldap', url: f.ldapUrl.trim(), baseDn: f.baseDn.trim(), bindDn: f.bindDn.trim(), startTls: f.startTls, ...(f.filter.trim() ? { filter: f.filter.trim() } : {}), ...(f.bindPassword ? { bindPassword: f.bindPassword } : {}) };
    const path = `/verification/sources/${encodeURIComponent(name)}`;
    const before = source(name)?.source;
    try {
      await api('PUT', path, body);
    } catch (err) {
      return { errors: err instanceof ApiError && err.fieldProblems.length > 0 ? storeProblems(err.fieldProblems, entries) : { '': describe(err) } };
    }
    if (before === undefined) return { undo: () => api('DELETE', path) };
    if (before.kind === 'static') return { undo: () => api('PUT', path, { kind: 'static', entries: before.entries }) };
    // A directory's password cannot be read back: the settings are put back, the password stays as sent.
    return { undo: () => api('PUT', path, { kind: 'ldap', url: before.url, baseDn: before.baseDn, bindDn: before.bindDn, filter: before.filter, startTls: before.startTls }) };
  };

  /** A store entry the old rules used for `domain` and the new ones no longer name is removed. */
  const dropUnused = async (oldDoc: Doc, newDoc: Doc, domain: string | undefined) => {
    const v = domain === undefined ? undefined : verifiedOf(oldDoc).find((d) => bare(d.domain) === bare(domain));
    if (!v || v.source === 'callout' || storeInUse(newDoc, storeOf(v)) || !source(storeOf(v))) return;
    await api('DELETE', `/verification/sources/${encodeURIComponent(storeOf(v))}`).catch(() => undefined);
  };

  const remove = async (domain: string) => {
    if (!rules.data || !confirm(`Remove ${domain}? Mail for it is refused from then on (550 5.7.1).`)) return;
    setNotice('');
    const next = removeDomain(rules.data.document, domain);
    try {
      await api('PUT', `/rules${query({ baseVersion: rules.data.version, comment: `domains: remove ${bare(domain)}` })}`, next);
      await dropUnused(rules.data.document, next, domain);
      setEditing(undefined);
      setNotice(`${domain} removed.`);
      reload();
    } catch (err) {
      setNotice(err instanceof ApiError && isStaleRules(err.code, err.details) ? describeStaleRules(err.details).headline : describe(err));
    }
  };

  return (
    <section>
      <h1>Domains {rules.data && <small>rules version {rules.data.version}</small>}</h1>
      <p class="hint">Mail is accepted for these domains only. Each goes to its own servers (else to each scanner's relay) and may have its recipients checked at RCPT TO: an unknown user gets 550 5.1.1, a source that cannot answer 451 4.4.3.</p>
      {rules.error && <p class="error" role="alert">{rules.error}</p>}
      {routes.error && <p class="error" role="alert">Route health: {routes.error}</p>}
      {notice && <p class="notice" role="status" data-testid="notice">{notice}</p>}
      {doc && (
        <div class="table-wrap">
          <table data-testid="domains">
            <thead><tr><th>Domain</th><th>Route</th><th class="wide">Health per node</th><th>Recipient verification</th>{admin && <th />}</tr></thead>
            <tbody>
              {acceptedOf(doc).map((d) => {
                const route = routesOf(doc).find((r) => bare(r.domain) === bare(d));
                const v = verifiedOf(doc).find((x) => bare(x.domain) === bare(d));
                return (
                  <tr data-domain={bare(d)}>
                    <td><strong>{d}</strong></td>
                    <td data-testid="route">{describeRoute(route)}</td>
                    <td class="wide" data-testid="health"><Health nodes={routes.data?.items.find((i) => i.route === (route ? route.domain : 'relay'))?.nodes} /></td>
                    <td data-testid="verification"><Verification v={v} stored={v && v.source !== 'callout' ? source(storeOf(v)) : undefined} admin={admin} /></td>
                    {admin && (
                      <td><span class="row-actions">
                        <button type="button" class="small" onClick={() => open(d)} aria-label={`Edit ${d}`}>Edit</button>
                        <button type="button" class="small danger" onClick={() => remove(d)} aria-label={`Remove ${d}`}>Remove…</button>
                      </span></td>
                    )}
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {admin ? (
        <>
          {!editing && <p><button type="button" onClick={() => open(undefined)}>Add a domain</button></p>}
          {editing && <DomainEditor editing={editing} errors={errors} busy={busy} onChange={(form) => setEditing({ ...editing, form })} onSave={save} onCancel={() => (setEditing(undefined), setErrors({}))} />}
          <AddressTest />
        </>
      ) : <p class="hint">Only an admin can change domains or test addresses.</p>}
    </section>
  );
}

function describeRoute(r: Route | undefined) {
  if (!r) return <span class="hint">each scanner's relay</span>;
  const servers = r.mx ? 'MX records' : (r.hosts ?? []).map((h) => `${h.host}:${h.port ?? r.port ?? 25} (priority ${h.priority ?? 10})`).join(', ');
  return (
    <>
      <div>{servers}</div>
      <div class="hint">{r.mx ? `port ${r.port ?? 25}, ` : ''}TLS {r.tls ?? 'opportunistic'}{r.ca ? ' (own CA)' : ''}, at most {r.maxConnections ?? 5} connections</div>
    </>
  );
}

function Health({ nodes }: { nodes: NodeHealth[] | undefined }) {
  if (!nodes || nodes.length === 0) return <span class="hint">no node has reported yet</span>;
  return (
    <ul class="health">
      {nodes.map((n) => (
        <li data-node={n.name}>
          <strong>{n.name}</strong>{!n.online && ' (offline)'}{' '}
          {n.last === null ? <span class="hint">no mail this way since it started</span> : (
            <>
              <span class={n.last.state === 'up' ? 'pill ok' : 'pill bad'}>{n.last.state}</span>{' '}
              {n.last.host && `via ${n.last.host} `}
              <span class="hint" title={when(n.last.at)}>{n.last.delivered} delivered, {n.last.deferred} deferred, {ago(n.last.at)}</span>
              {n.last.error && <div class="field-error">{n.last.error}</div>}
            </>
          )}
        </li>
      ))}
    </ul>
  );
}

function Verification({ v, stored, admin }: { v: Verified | undefined; stored: SourceView | undefined; admin: boolean }) {
  if (!v) return <span class="hint">none: every recipient accepted</span>;
  if (v.source === 'callout') return <span>call-out to {v.callout?.host ? `${v.callout.host}:${v.callout.port ?? 25}` : "each scanner's relay"}</span>;
  const name = storeOf(v);
  const what = v.source === 'static' ? `static list ${name}` : `LDAP ${name}`;
  if (!admin) return <span>{what}</span>;
  if (!stored) return <span>{what} <span class="pill bad">missing from the store: 451 4.4.3</span></span>;
  const s = stored.source;
  return (
    <span>
      {what}: {s.kind === 'static' ? `${s.entries.length} ${s.entries.length === 1 ? 'entry' : 'entries'}` : `${s.url}, ${s.bindDn || 'anonymous'}${s.bindPassword ? ', password set' : ''}`}
      <div class="hint">saved {ago(stored.updatedAt)} by {stored.updatedBy}</div>
    </span>
  );
}

function DomainEditor({ editing, errors, busy, onChange, onSave, onCancel }: {
  editing: { original: string | undefined; form: DomainForm }; errors: Errors; busy: boolean;
  onChange: (f: DomainForm) => void; onSave: (e: Event) => void; onCancel: () => void;
}) {
  const f = editing.form;
  const set = <K extends keyof DomainForm>(k: K, v: DomainForm[K]) => onChange({ ...f, [k]: v });
  const value = (e: Event) => (e.currentTarget as HTMLInputElement).value;
  const form = 'domain';
  const text = (k: keyof DomainForm & keyof Errors, label: string, props: Record<string, unknown> = {}) => (
    <Field label={label} name={k} error={errors[k]} form={form}>{(a) => <input {...a} name={k} value={f[k] as string} onInput={(e) => set(k, value(e))} {...props} />}</Field>
  );
  return (
    <form class="card-form domain-form" onSubmit={onSave} data-testid="domain-form">
      <h2>{editing.original === undefined ? 'Add a domain' : `Edit ${editing.original}`}</h2>
      {errors[''] && <p class="error" role="alert">{errors['']}</p>}
      {text('domain', 'Domain (*.example.com for its subdomains)', { placeholder: 'example.com' })}
      <fieldset>
        <legend>Route</legend>
        <Field label="Delivered to" name="routeMode" error={errors.routeMode} form={form}>
          {(a) => (
            <select {...a} name="routeMode" value={f.routeMode} onChange={(e) => set('routeMode', value(e) as DomainForm['routeMode'])}>
              <option value="relay">each scanner's relay (its config)</option><option value="hosts">these servers</option><option value="mx">the domain's MX records</option>
            </select>
          )}
        </Field>
        {f.routeMode === 'hosts' && (
          <Field label="Servers, one a line: host, host:port or host:port priority (lower first; equal share)" name="hosts" error={errors.hosts} form={form}>
            {(a) => <textarea {...a} name="hosts" rows={3} value={f.hosts} placeholder={'mx1.example.com 10\nmx2.example.com:2525 20'} onInput={(e) => set('hosts', value(e))} />}
          </Field>
        )}
        {f.routeMode !== 'relay' && (
          <div class="filters">
            {text('port', 'Port', { inputMode: 'numeric', size: 6 })}
            <Field label="TLS" name="tls" error={errors.tls} form={form}>
              {(a) => (
                <select {...a} name="tls" value={f.tls} onChange={(e) => set('tls', value(e) as DomainForm['tls'])}>
                  <option value="none">none</option><option value="opportunistic">opportunistic</option><option value="required">required, certificate verified</option>
                </select>
              )}
            </Field>
            {text('maxConnections', 'Most connections per scanner', { inputMode: 'numeric', size: 6 })}
          </div>
        )}
        {f.routeMode !== 'relay' && f.tls === 'required' && (
          <Field label="CA certificate, PEM (empty: the system's)" name="ca" error={errors.ca} form={form}>
            {(a) => <textarea {...a} name="ca" rows={3} value={f.ca} onInput={(e) => set('ca', value(e))} />}
          </Field>
        )}
      </fieldset>
      <fieldset>
        <legend>Recipient verification</legend>
        <Field label="Check recipients at RCPT TO with" name="source" error={errors.source} form={form}>
          {(a) => (
            <select {...a} name="source" value={f.source} onChange={(e) => set('source', value(e) as DomainForm['source'])}>
              <option value="none">nothing: accept every recipient</option><option value="static">a static list</option><option value="ldap">LDAP / Active Directory</option><option value="callout">a call-out to the domain's mail server</option>
            </select>
          )}
        </Field>
        {(f.source === 'static' || f.source === 'ldap') && text('store', 'Store entry (empty: the domain)', { placeholder: bare(f.domain).replace(/^\*\./, '') })}
        {f.source === 'static' && (
          <Field label="Addresses and patterns, one a line (*@domain, sales-*@domain)" name="entries" error={errors.entries} form={form}>
            {(a) => <textarea {...a} name="entries" rows={5} value={f.entries} onInput={(e) => set('entries', value(e))} />}
          </Field>
        )}
        {f.source === 'ldap' && (
          <div class="grid">
            {text('ldapUrl', 'URL (ldap:// or ldaps://)', { placeholder: 'ldaps://dc1.corp.example:636' })}
            {text('baseDn', 'Base DN', { placeholder: 'DC=corp,DC=example' })}
            {text('bindDn', 'Bind DN (empty: anonymous)')}
            {text('bindPassword', 'Bind password (empty: keep the stored one)', { type: 'password', autocomplete: 'new-password' })}
            {text('filter', 'Filter (empty: Active Directory\'s mail or proxyAddresses)')}
            <label><span><input type="checkbox" name="startTls" checked={f.startTls} onChange={(e) => set('startTls', (e.currentTarget as HTMLInputElement).checked)} /> StartTLS</span>{errors.startTls && <span class="field-error">{errors.startTls}</span>}</label>
          </div>
        )}
        {f.source === 'callout' && (
          <div class="filters">
            {text('calloutHost', 'Server to probe (empty: the relay)')}
            {text('calloutPort', 'Its port', { inputMode: 'numeric', size: 6 })}
          </div>
        )}
      </fieldset>
      <div class="row-actions">
        <button type="submit" disabled={busy}>Save domain</button>
        <button type="button" class="link" onClick={onCancel}>Cancel</button>
      </div>
    </form>
  );
}

const OUTCOME: Record<TestAnswer['outcome'], [string, string]> = {
  accepted: ['accepted', 'pill ok'],
  'not-verified': ['accepted (not verified)', 'pill ok'],
  unknown: ['unknown user: refused', 'pill bad'],
  unavailable: ['cannot be checked now: temporary failure', 'pill bad'],
  refused: ['refused', 'pill bad'],
};

/** "Test this address": the lookup RCPT TO would run, on a scanner, now (the call-out cache skipped). */
function AddressTest() {
  const [address, setAddress] = useState('');
  const [answer, setAnswer] = useState<TestAnswer | undefined>(undefined);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const test = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setAnswer(undefined);
    try {
      setAnswer(await api<TestAnswer>('POST', '/verification/test', { address: address.trim() }));
      setErrors({});
    } catch (err) {
      setErrors(fieldErrors(err, ['address']));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card-form" onSubmit={test} data-testid="address-test">
      <h2>Test an address</h2>
      {errors[''] && <p class="error" role="alert">{errors['']}</p>}
      <div class="filters">
        <Field label="Recipient address" name="address" error={errors['address']} form="test">
          {(a) => <input {...a} name="test-address" value={address} placeholder="user@example.com" size={32} onInput={(e) => setAddress((e.currentTarget as HTMLInputElement).value)} />}
        </Field>
        <button type="submit" disabled={busy}>Test this address</button>
      </div>
      {answer && (
        <dl class="facts" data-testid="test-answer" data-address={answer.address}>
          <dt>Answer</dt><dd><span class={OUTCOME[answer.outcome][1]}>{OUTCOME[answer.outcome][0]}</span></dd>
          <dt>RCPT TO reply</dt><dd><code>{answer.reply}</code></dd>
          <dt>Why</dt><dd>{answer.detail}</dd>
          <dt>Looked up</dt><dd>{answer.lookedUp ?? '(not looked up)'}{answer.source ? ` by ${answer.source}` : ''}</dd>
          <dt>On</dt><dd>{answer.node}</dd>
        </dl>
      )}
    </form>
  );
}
