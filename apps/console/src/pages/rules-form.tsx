import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { getIn, linesToList, listToLines, nodeNames, numberValue, pathOf, problemsAt, setIn, unclaimed, type Doc, type Problem } from '../lib/rules-form-model.ts';

/**
 * The rules as a form: lists, thresholds, limits, attachment policy, content rules and the
 * per-node weights and maintenance flags. It edits the same document as the text editor
 * (switching keeps the edits) and puts each problem the API names next to its field.
 */
interface Ctx {
  readonly doc: Doc;
  readonly problems: readonly Problem[];
  readonly readOnly: boolean;
  readonly set: (field: string | readonly (string | number)[], value: unknown) => void;
}

const ACTIONS = ['deliver', 'tag', 'quarantine', 'reject'] as const;
const TARGETS = ['subject', 'headers', 'header', 'body', 'any'] as const;
const LISTS = [
  ['ipAllow', 'Allowed client IPs', 'Addresses or CIDR blocks, e.g. 192.0.2.0/24; skip lists, content rules and scoring.'],
  ['ipBlock', 'Blocked client IPs', 'Refused at connect (554 5.7.1).'],
  ['senderAllow', 'Allowed senders', 'Address or domain patterns: user@example.com, example.com, *.example.com.'],
  ['senderBlock', 'Blocked senders', 'Refused at MAIL FROM (550 5.7.1).'],
  ['recipientAllow', 'Allowed recipients', 'Mail to these is always allowed.'],
  ['recipientBlock', 'Blocked recipients', 'Refused at RCPT TO (550 5.7.1).'],
] as const;

/** Every field this form shows; a problem about anything else is listed above the form. */
export const FORM_FIELDS = [
  'acceptedDomains', 'lists', 'scoring', 'tagging', 'limits', 'attachments', 'content', 'nodes',
] as const;

export function RulesForm({ doc, problems, readOnly, registry, onChange }: { doc: Doc; problems: readonly Problem[]; readOnly: boolean; registry: readonly string[]; onChange: (doc: Doc) => void }) {
  const ctx: Ctx = { doc, problems, readOnly, set: (field, value) => onChange(setIn(doc, typeof field === 'string' ? pathOf(field) : field, value)) };
  const others = unclaimed(problems, FORM_FIELDS);
  return (
    <div class="rules-form" data-testid="rules-form">
      {others.length > 0 && (
        <ul class="problems" data-testid="problems">{others.map((p) => <li><code>{p.field || 'document'}</code>: {p.message}</li>)}</ul>
      )}
      <fieldset>
        <legend>Accepted domains</legend>
        <ListField ctx={ctx} field="acceptedDomains" label="Recipient domains this gateway accepts mail for" hint="One per line; *.example.com for subdomains. Anything else gets 550 5.7.1 relaying denied." />
      </fieldset>
      <fieldset>
        <legend>Lists</legend>
        <div class="grid">{LISTS.map(([key, label, hint]) => <ListField ctx={ctx} field={`lists.${key}`} label={label} hint={hint} />)}</div>
      </fieldset>
      <fieldset>
        <legend>Spam score thresholds</legend>
        <div class="filters">
          <NumberField ctx={ctx} field="scoring.tag" label="Tag at" />
          <NumberField ctx={ctx} field="scoring.quarantine" label="Quarantine at" />
          <NumberField ctx={ctx} field="scoring.reject" label="Reject at" />
          <TextField ctx={ctx} field="tagging.subjectPrefix" label="Subject prefix of tagged mail" />
        </div>
      </fieldset>
      <fieldset>
        <legend>Limits</legend>
        <div class="filters">
          <NumberField ctx={ctx} field="limits.maxMessageBytes" label="Largest message (bytes)" />
          <NumberField ctx={ctx} field="limits.maxRecipients" label="Recipients per message" />
        </div>
      </fieldset>
      <fieldset>
        <legend>Attachments</legend>
        <div class="grid">
          <ListField ctx={ctx} field="attachments.blockedExtensions" label="Blocked extensions" hint="Without the dot: exe, scr, js…" />
          <ListField ctx={ctx} field="attachments.blockedMimeTypes" label="Blocked content types" />
        </div>
        <div class="filters">
          <CheckField ctx={ctx} field="attachments.blockDoubleExtensions" label="Catch double extensions (invoice.pdf.exe)" fallback />
          <CheckField ctx={ctx} field="attachments.scanArchives" label="Look inside zip archives" fallback />
          <SelectField ctx={ctx} field="attachments.action" label="Action" options={['reject', 'quarantine']} fallback="reject" />
        </div>
      </fieldset>
      <ContentRules ctx={ctx} />
      <NodeSettings ctx={ctx} names={nodeNames(registry, doc)} />
    </div>
  );
}

/** The label, the control, then the API's problems about this field tied to the control. */
function FieldShell({ ctx, field, label, hint, children }: { ctx: Ctx; field: string; label: string; hint?: string; children: (a11y: Record<string, unknown>) => ComponentChildren }) {
  const errors = problemsAt(ctx.problems, field, ctx.doc);
  const id = `rules-${field.replace(/\./g, '-')}`;
  const describedBy = [hint ? `${id}-hint` : '', errors.length > 0 ? `${id}-error` : ''].filter(Boolean).join(' ');
  return (
    <label for={id}>
      {label}
      {children({ id, name: field, 'aria-invalid': errors.length > 0, ...(describedBy ? { 'aria-describedby': describedBy } : {}), readOnly: ctx.readOnly, disabled: undefined })}
      {hint && <span class="hint" id={`${id}-hint`}>{hint}</span>}
      {errors.length > 0 && <span class="field-error" id={`${id}-error`} data-field-error={field}>{errors.join('; ')}</span>}
    </label>
  );
}

/**
 * A text the admin types into, mapped to the document on every keystroke. It keeps its own
 * text while that text still means what the document holds, so a half-typed line or number
 * (a trailing newline, `1.`) is not rewritten under the cursor.
 */
function useEditedText(value: unknown, toText: (v: unknown) => string, fromText: (t: string) => unknown) {
  const [text, setText] = useState(toText(value));
  useEffect(() => {
    if (JSON.stringify(fromText(text)) !== JSON.stringify(value)) setText(toText(value));
  }, [JSON.stringify(value)]);
  return [text, setText] as const;
}

function ListField({ ctx, field, label, hint }: { ctx: Ctx; field: string; label: string; hint?: string }) {
  const value = getIn(ctx.doc, pathOf(field));
  const [text, setText] = useEditedText(value, listToLines, linesToList);
  return (
    <FieldShell ctx={ctx} field={field} label={label} hint={hint}>
      {(a11y) => <textarea {...a11y} rows={4} spellcheck={false} value={text} onInput={(e) => {
        const t = (e.currentTarget as HTMLTextAreaElement).value;
        setText(t);
        ctx.set(field, linesToList(t));
      }} />}
    </FieldShell>
  );
}

function NumberField({ ctx, field, label }: { ctx: Ctx; field: string; label: string }) {
  const value = getIn(ctx.doc, pathOf(field));
  const [text, setText] = useEditedText(value, (v) => (v === undefined ? '' : String(v)), numberValue);
  return (
    <FieldShell ctx={ctx} field={field} label={label}>
      {(a11y) => <input {...a11y} inputMode="decimal" size={12} value={text} onInput={(e) => {
        const t = (e.currentTarget as HTMLInputElement).value;
        setText(t);
        ctx.set(field, numberValue(t));
      }} />}
    </FieldShell>
  );
}

function TextField({ ctx, field, label }: { ctx: Ctx; field: string; label: string }) {
  const value = getIn(ctx.doc, pathOf(field));
  return (
    <FieldShell ctx={ctx} field={field} label={label}>
      {(a11y) => <input {...a11y} value={typeof value === 'string' ? value : ''} onInput={(e) => ctx.set(field, (e.currentTarget as HTMLInputElement).value)} />}
    </FieldShell>
  );
}

function CheckField({ ctx, field, label, fallback }: { ctx: Ctx; field: string; label: string; fallback: boolean }) {
  const value = getIn(ctx.doc, pathOf(field));
  return (
    <FieldShell ctx={ctx} field={field} label={label}>
      {({ readOnly, ...a11y }) => <input {...a11y} type="checkbox" disabled={Boolean(readOnly)} checked={typeof value === 'boolean' ? value : fallback} onChange={(e) => ctx.set(field, (e.currentTarget as HTMLInputElement).checked)} />}
    </FieldShell>
  );
}

function SelectField({ ctx, field, label, options, fallback }: { ctx: Ctx; field: string; label: string; options: readonly string[]; fallback: string }) {
  const value = getIn(ctx.doc, pathOf(field));
  return (
    <FieldShell ctx={ctx} field={field} label={label}>
      {({ readOnly, ...a11y }) => (
        <select {...a11y} disabled={Boolean(readOnly)} value={typeof value === 'string' ? value : fallback} onChange={(e) => ctx.set(field, (e.currentTarget as HTMLSelectElement).value)}>
          {options.map((o) => <option value={o}>{o}</option>)}
        </select>
      )}
    </FieldShell>
  );
}

type Rule = Record<string, unknown>;

/** Content rules as rows: each field edited in place, rows added and removed; order is evaluation order. */
function ContentRules({ ctx }: { ctx: Ctx }) {
  const rules = (getIn(ctx.doc, ['content']) as Rule[] | undefined) ?? [];
  const setRule = (i: number, key: string, value: unknown) => ctx.set(['content', i, key], value === '' ? undefined : value);
  const add = () => ctx.set(['content'], [...rules, { id: `rule-${rules.length + 1}`, target: 'subject', contains: 'text to look for', action: 'quarantine' }]);
  const errorsOf = (i: number) => problemsAt(ctx.problems, `content.${i}`, ctx.doc);
  const whole = problemsAt(ctx.problems, 'content', ctx.doc).filter((m) => !/^\d+\./.test(m));
  return (
    <fieldset>
      <legend>Content rules</legend>
      <p class="hint">Evaluated in order. A rule matches when its target contains the text or matches the regular expression; it then sets the action and/or adds the score.</p>
      {whole.length > 0 && <p class="field-error" data-field-error="content">{whole.join('; ')}</p>}
      <div class="table-wrap">
        <table data-testid="content-rules">
          <thead><tr><th>On</th><th>Id</th><th>Target</th><th>Header</th><th>Contains</th><th>Regex</th><th>Action</th><th>Score</th><th /></tr></thead>
          <tbody>
            {rules.map((r, i) => {
              const errors = errorsOf(i);
              const text = (key: string, size = 14) => (
                <input aria-label={`Rule ${i + 1} ${key}`} name={`content.${i}.${key}`} size={size} readOnly={ctx.readOnly} value={typeof r[key] === 'string' ? (r[key] as string) : ''}
                  aria-invalid={errors.some((m) => m.startsWith(`${key}:`))} onInput={(e) => setRule(i, key, (e.currentTarget as HTMLInputElement).value)} />
              );
              return (
                <>
                  <tr data-rule={String(r.id ?? i)}>
                    <td><input type="checkbox" aria-label={`Rule ${i + 1} enabled`} disabled={ctx.readOnly} checked={r.enabled !== false} onChange={(e) => setRule(i, 'enabled', (e.currentTarget as HTMLInputElement).checked)} /></td>
                    <td>{text('id', 12)}</td>
                    <td>
                      <select aria-label={`Rule ${i + 1} target`} disabled={ctx.readOnly} value={String(r.target ?? 'subject')} onChange={(e) => setRule(i, 'target', (e.currentTarget as HTMLSelectElement).value)}>
                        {TARGETS.map((t) => <option value={t}>{t}</option>)}
                      </select>
                    </td>
                    <td>{r.target === 'header' ? text('header', 10) : <span class="hint">—</span>}</td>
                    <td>{text('contains')}</td>
                    <td>{text('regex')}</td>
                    <td>
                      <select aria-label={`Rule ${i + 1} action`} disabled={ctx.readOnly} value={typeof r.action === 'string' ? r.action : ''} onChange={(e) => setRule(i, 'action', (e.currentTarget as HTMLSelectElement).value)}>
                        <option value="">(score only)</option>
                        {ACTIONS.map((a) => <option value={a}>{a}</option>)}
                      </select>
                    </td>
                    <td><input aria-label={`Rule ${i + 1} score`} size={5} inputMode="decimal" readOnly={ctx.readOnly} value={r.score === undefined ? '' : String(r.score)} onChange={(e) => setRule(i, 'score', numberValue((e.currentTarget as HTMLInputElement).value))} /></td>
                    <td>{!ctx.readOnly && <button type="button" class="small danger" onClick={() => ctx.set(['content', i], undefined)}>Remove</button>}</td>
                  </tr>
                  {errors.length > 0 && <tr class="row-error"><td colSpan={9}><span class="field-error" data-field-error={`content.${i}`}>{errors.join('; ')}</span></td></tr>}
                </>
              );
            })}
            {rules.length === 0 && <tr><td colSpan={9}>No content rules.</td></tr>}
          </tbody>
        </table>
      </div>
      {!ctx.readOnly && <p><button type="button" class="small" onClick={add}>Add a content rule</button></p>}
    </fieldset>
  );
}

/** Balancer weight, backup role and maintenance (drain) per node: from the registry and the document. */
function NodeSettings({ ctx, names }: { ctx: Ctx; names: string[] }) {
  const setNode = (name: string, key: string, value: unknown) => ctx.set(['nodes', name, key], value);
  return (
    <fieldset>
      <legend>Nodes</legend>
      <p class="hint">Weight shares the virtual SMTP address's connections (0: none); a backup node only takes mail when no primary can; maintenance drains the node: no new connections, sessions in progress finish.</p>
      {problemsAt(ctx.problems, 'nodes', ctx.doc).length > 0 && <p class="field-error" data-field-error="nodes">{problemsAt(ctx.problems, 'nodes', ctx.doc).join('; ')}</p>}
      <div class="table-wrap">
        <table data-testid="node-settings">
          <thead><tr><th>Node</th><th>Weight</th><th>Backup</th><th>Maintenance</th></tr></thead>
          <tbody>
            {names.map((name) => {
              const n = (getIn(ctx.doc, ['nodes', name]) as Record<string, unknown> | undefined) ?? {};
              return (
                <tr data-node={name}>
                  <td>{name}</td>
                  <td><input aria-label={`${name} weight`} name={`nodes.${name}.weight`} size={5} inputMode="numeric" readOnly={ctx.readOnly} value={n.weight === undefined ? '1' : String(n.weight)} onChange={(e) => setNode(name, 'weight', numberValue((e.currentTarget as HTMLInputElement).value))} /></td>
                  <td><input type="checkbox" aria-label={`${name} backup`} disabled={ctx.readOnly} checked={n.backup === true} onChange={(e) => setNode(name, 'backup', (e.currentTarget as HTMLInputElement).checked)} /></td>
                  <td><input type="checkbox" aria-label={`${name} maintenance`} name={`nodes.${name}.maintenance`} disabled={ctx.readOnly} checked={n.maintenance === true} onChange={(e) => setNode(name, 'maintenance', (e.currentTarget as HTMLInputElement).checked)} /></td>
                </tr>
              );
            })}
            {names.length === 0 && <tr><td colSpan={4}>No node has registered yet.</td></tr>}
          </tbody>
        </table>
      </div>
    </fieldset>
  );
}
