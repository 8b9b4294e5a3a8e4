import { useState } from 'preact/hooks';
import { api, ApiError, describe } from '../lib/api.ts';
import { when } from '../lib/format.ts';
import { describeTiming, fromForm, NEW_SCHEDULE, scheduleErrors, toForm, TOP_LABELS, WEEKDAYS, type Schedule, type ScheduleForm } from '../lib/report-schedule-model.ts';
import { useData } from '../lib/use-data.ts';
import { Field } from '../components/field.tsx';

interface Round {
  period: { start: string; end: string };
  status: 'sending' | 'sent' | 'failed';
  attempts: number;
  lastAttemptAt: string;
  sentAt: string | null;
  nodeId: string | null;
  queueId: string | null;
  recipients: string[];
  error: string | null;
}
interface View {
  id: string;
  schedule: Schedule;
  updatedAt: string;
  updatedBy: string;
  nextRunAt: string | null;
  rounds: Round[];
}

const day = (iso: string) => iso.slice(0, 10);
/** `2026-03-02` or `2026-02-23 to 2026-03-01` (the end is exclusive). */
const periodText = (p: Round['period']) => {
  const last = new Date(Date.parse(p.end) - 86_400_000).toISOString();
  return day(last) === day(p.start) ? day(p.start) : `${day(p.start)} to ${day(last)}`;
};
const STATUS_CLASS: Record<Round['status'], string> = { sent: 'pill ok', failed: 'pill bad', sending: 'pill' };

/** Scheduled reports by mail (admin): the schedules, their rounds, a form to add or edit one, *Send now*. */
export function ScheduledReportsPage() {
  const list = useData(() => api<{ items: View[] }>('GET', '/reports/schedules'), []);
  const [editing, setEditing] = useState<{ id: string | null; form: ScheduleForm } | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [notice, setNotice] = useState('');
  const [busy, setBusy] = useState(false);

  const edit = (id: string | null, s: Schedule) => {
    setEditing({ id, form: toForm(s) });
    setErrors({});
    setNotice('');
  };
  const set = <K extends keyof ScheduleForm>(key: K, value: ScheduleForm[K]) => editing && setEditing({ ...editing, form: { ...editing.form, [key]: value } });
  const save = async (e: Event) => {
    e.preventDefault();
    if (!editing) return;
    setBusy(true);
    try {
      const body = fromForm(editing.form);
      await (editing.id ? api('PUT', `/reports/schedules/${editing.id}`, body) : api('POST', '/reports/schedules', body));
      setNotice(`Schedule "${body.name}" saved.`);
      setEditing(null);
      list.reload();
    } catch (err) {
      setErrors(err instanceof ApiError && err.fieldProblems.length > 0 ? scheduleErrors(err.fieldProblems, editing.form) : { '': describe(err) });
    } finally {
      setBusy(false);
    }
  };
  const sendNow = async (v: View) => {
    setNotice('');
    try {
      const r = await api<{ period: Round['period']; queueId: string; recipients: string[] }>('POST', `/reports/schedules/${v.id}/send`);
      setNotice(`"${v.schedule.name}" for ${periodText(r.period)} queued for ${r.recipients.join(', ')} (queue id ${r.queueId}).`);
    } catch (err) {
      setNotice(describe(err));
    }
  };
  const remove = async (v: View) => {
    if (!confirm(`Delete the scheduled report "${v.schedule.name}"? Its recipients get no more reports.`)) return;
    try {
      await api('DELETE', `/reports/schedules/${v.id}`);
      setNotice(`Schedule "${v.schedule.name}" deleted.`);
      if (editing?.id === v.id) setEditing(null);
    } catch (err) {
      setNotice(describe(err));
    }
    list.reload();
  };
  const value = (e: Event) => (e.currentTarget as HTMLInputElement).value;
  const checked = (e: Event) => (e.currentTarget as HTMLInputElement).checked;
  const f = editing?.form;
  const formId = 'report-schedule';

  return (
    <section>
      <h1>Scheduled reports</h1>
      <p class="hint">
        Traffic, top lists and the quarantine per recipient domain, mailed daily (the previous UTC day) or weekly (the previous seven days)
        through a scanner's relay. Each period is sent once; <em>Send now</em> mails the last whole period at once, to test a schedule.
      </p>
      {list.error && <p class="error" role="alert">{list.error}</p>}
      {notice && <p class="notice" role="status" data-testid="notice">{notice}</p>}
      <div class="table-wrap">
        <table data-testid="schedules">
          <thead><tr><th>Name</th><th>When</th><th>To</th><th>Next</th><th>Last round</th><th /></tr></thead>
          <tbody>
            {list.data?.items.map((v) => {
              const last = v.rounds[0];
              return (
                <tr data-schedule={v.schedule.name}>
                  <td>{v.schedule.name}{!v.schedule.enabled && <> <span class="pill">off</span></>}</td>
                  <td>{describeTiming(v.schedule)}</td>
                  <td>{v.schedule.recipients.join(', ')}</td>
                  <td>{v.nextRunAt ? when(v.nextRunAt) : '—'}</td>
                  <td>{last ? <><span class={STATUS_CLASS[last.status]}>{last.status}</span> {periodText(last.period)}{last.error && <> · {last.error}</>}</> : 'none yet'}</td>
                  <td class="row-actions">
                    <button type="button" class="small" onClick={() => edit(v.id, v.schedule)}>Edit</button>
                    <button type="button" class="small" onClick={() => sendNow(v)}>Send now</button>
                    <button type="button" class="small danger" onClick={() => remove(v)} aria-label={`Delete ${v.schedule.name}`}>Delete</button>
                  </td>
                </tr>
              );
            })}
            {list.data?.items.length === 0 && <tr><td colSpan={6}>No scheduled reports yet.</td></tr>}
          </tbody>
        </table>
      </div>
      {!editing && <p><button type="button" onClick={() => edit(null, NEW_SCHEDULE)}>New scheduled report</button></p>}
      {editing && f && (
        <form class="digests-form" data-testid="schedule-form" onSubmit={save} noValidate>
          <h2>{editing.id ? `Edit "${f.name}"` : 'New scheduled report'}</h2>
          {errors[''] && <p class="error" role="alert">{errors['']}</p>}
          <Field form={formId} label="Name" name="name" error={errors.name}>{(a) => <input {...a} value={f.name} placeholder="Daily traffic" onInput={(e) => set('name', value(e))} />}</Field>
          <label><input type="checkbox" checked={f.enabled} onChange={(e) => set('enabled', checked(e))} /> Send on the schedule</label>
          <Field form={formId} label="Period" name="period" error={errors.period}>
            {(a) => (
              <select {...a} value={f.period} onChange={(e) => set('period', value(e) as Schedule['period'])}>
                <option value="daily">daily: the previous day</option><option value="weekly">weekly: the previous seven days</option>
              </select>
            )}
          </Field>
          {f.period === 'weekly' && (
            <Field form={formId} label="Sent on" name="weekday" error={errors.weekday}>
              {(a) => <select {...a} value={f.weekday} onChange={(e) => set('weekday', value(e) as Schedule['weekday'])}>{WEEKDAYS.map((d) => <option value={d}>{d}</option>)}</select>}
            </Field>
          )}
          <Field form={formId} label="At (UTC)" name="sendAt" error={errors.sendAt}>{(a) => <input {...a} type="time" value={f.sendAt} onInput={(e) => set('sendAt', value(e))} />}</Field>
          <Field form={formId} label="Recipients (one address a line)" name="recipients" error={errors.recipients}>
            {(a) => <textarea {...a} rows={3} value={f.recipients} placeholder="postmaster@example.com" onInput={(e) => set('recipients', value(e))} />}
          </Field>
          <Field form={formId} label="From (empty: postmaster@ the first recipient's domain)" name="sender" error={errors.sender}>
            {(a) => <input {...a} value={f.sender} onInput={(e) => set('sender', value(e))} />}
          </Field>
          <fieldset>
            <legend>Reports</legend>
            <label><input type="checkbox" checked={f.traffic} onChange={(e) => set('traffic', checked(e))} /> Traffic per verdict, per day and per node</label>
            {TOP_LABELS.map(([kind, label]) => (
              <label><input type="checkbox" checked={f.topLists.includes(kind)} onChange={(e) => set('topLists', checked(e) ? [...f.topLists, kind] : f.topLists.filter((k) => k !== kind))} /> {label}</label>
            ))}
            <label><input type="checkbox" checked={f.quarantine} onChange={(e) => set('quarantine', checked(e))} /> Quarantine per recipient domain</label>
            {errors.topLists && <span class="field-error" data-field-error="topLists">{errors.topLists}</span>}
          </fieldset>
          <Field form={formId} label="Rows in each top list" name="topLimit" error={errors.topLimit}>
            {(a) => <input {...a} type="number" min={1} max={50} value={f.topLimit} onInput={(e) => set('topLimit', Number(value(e)))} />}
          </Field>
          <Field form={formId} label="Only these recipient domains in the quarantine summary (one a line; empty: all)" name="domains" error={errors.domains}>
            {(a) => <textarea {...a} rows={2} value={f.domains} placeholder="example.com" onInput={(e) => set('domains', value(e))} />}
          </Field>
          <div class="row">
            <button type="submit" disabled={busy}>Save</button>
            <button type="button" class="link" onClick={() => setEditing(null)}>Cancel</button>
          </div>
        </form>
      )}
      {list.data?.items.filter((v) => v.rounds.length > 0).map((v) => (
        <div data-testid="rounds">
          <h2>Rounds of "{v.schedule.name}"</h2>
          <div class="table-wrap">
            <table>
              <thead><tr><th>Period (UTC)</th><th>State</th><th>Attempts</th><th>Sent</th><th class="wide">Node</th><th class="wide">Queue id</th><th>Error</th></tr></thead>
              <tbody>
                {v.rounds.map((r) => (
                  <tr>
                    <td>{periodText(r.period)}</td><td><span class={STATUS_CLASS[r.status]}>{r.status}</span></td><td>{r.attempts}</td>
                    <td>{r.sentAt ? when(r.sentAt) : '—'}</td><td class="wide"><code>{r.nodeId ?? '—'}</code></td><td class="wide"><code>{r.queueId ?? '—'}</code></td><td>{r.error ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>
      ))}
    </section>
  );
}
