import { useEffect, useState } from 'preact/hooks';
import { api, describe } from '../lib/api.ts';
import { fieldErrors } from '../lib/field-errors.ts';
import { when } from '../lib/format.ts';
import { useData } from '../lib/use-data.ts';
import { Field } from '../components/field.tsx';

type Category = 'spam' | 'attachment' | 'virus';
interface Settings {
  enabled: boolean;
  schedule: { mode: 'daily' | 'interval'; dailyAt: string; intervalMinutes: number };
  categories: Category[];
  baseUrl: string;
  defaultSender: string;
  senders: Record<string, string>;
  fromName: string;
  linkHours: number;
  sessionMinutes: number;
  maxAgeDays: number;
  maxMessages: number;
  templates: { subject: string; text: string; html: string };
}
interface View {
  settings: Settings;
  updatedAt: string | null;
  updatedBy: string | null;
  lastRunAt: string | null;
  nextRunAt: string | null;
}

const FIELDS = ['enabled', 'schedule', 'categories', 'baseUrl', 'defaultSender', 'senders', 'fromName', 'linkHours', 'sessionMinutes', 'templates'];
const CATEGORIES: readonly [Category, string][] = [['spam', 'Spam and content rules'], ['attachment', 'Blocked attachments'], ['virus', 'Viruses']];

/** `domain = address` lines ⇄ the senders map. */
const sendersText = (s: Record<string, string>) => Object.entries(s).map(([d, a]) => `${d} = ${a}`).join('\n');
const parseSenders = (text: string): Record<string, string> =>
  Object.fromEntries(text.split('\n').map((l) => l.trim()).filter(Boolean).map((l) => {
    const i = l.indexOf('=');
    return i < 0 ? [l, ''] : [l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim()];
  }));

/** Quarantine digests (admin): schedule, what is listed, sender addresses, templates; "send now". */
export function DigestsPage() {
  const view = useData(() => api<View>('GET', '/digests/settings'), []);
  const [s, setS] = useState<Settings | undefined>(undefined);
  const [senders, setSenders] = useState('');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [notice, setNotice] = useState('');

  useEffect(() => {
    if (view.data) {
      setS(view.data.settings);
      setSenders(sendersText(view.data.settings.senders));
    }
  }, [view.data]);
  if (!s) return <section><h1>Digests</h1>{view.error ? <p class="error" role="alert">{view.error}</p> : <p class="loading">Loading…</p>}</section>;

  const set = <K extends keyof Settings>(key: K, value: Settings[K]) => setS({ ...s, [key]: value });
  const save = async (e: Event) => {
    e.preventDefault();
    setNotice('');
    try {
      await api('PUT', '/digests/settings', { ...s, senders: parseSenders(senders) });
      setErrors({});
      setNotice('Saved.');
      view.reload();
    } catch (err) {
      setErrors(fieldErrors(err, FIELDS));
    }
  };
  const runNow = async () => {
    setNotice('');
    try {
      const r = await api<{ queued: number; messages: number; waiting: number }>('POST', '/digests/run');
      setNotice(`Digests queued: ${r.queued} (${r.messages} messages)${r.waiting > 0 ? `; ${r.waiting} waiting for a scanner` : ''}.`);
      view.reload();
    } catch (err) {
      setNotice(describe(err));
    }
  };
  const value = (e: Event) => (e.currentTarget as HTMLInputElement).value;
  const form = 'digests';

  return (
    <section>
      <h1>Quarantine digests</h1>
      <p class="hint">
        One digest per recipient for the whole cluster, with links to release, release and allow the sender, or delete.
        Last round: {view.data?.lastRunAt ? when(view.data.lastRunAt) : 'never'}; next: {view.data?.nextRunAt ? when(view.data.nextRunAt) : 'not scheduled'}.
        {view.data?.updatedBy && ` Settings saved ${when(view.data.updatedAt ?? '')} by ${view.data.updatedBy}.`}
      </p>
      {notice && <p class="notice" role="status" data-testid="notice">{notice}</p>}
      {errors[''] && <p class="error" role="alert">{errors['']}</p>}
      <form class="digests-form" onSubmit={save}>
        <label><input type="checkbox" checked={s.enabled} onChange={(e) => set('enabled', (e.currentTarget as HTMLInputElement).checked)} /> Send digests on the schedule</label>
        <Field label="Schedule" name="schedule" error={errors.schedule} form={form}>
          {(a) => (
            <span class="row">
              <select {...a} value={s.schedule.mode} onChange={(e) => set('schedule', { ...s.schedule, mode: value(e) as 'daily' | 'interval' })}>
                <option value="daily">daily at (UTC)</option><option value="interval">every (minutes)</option>
              </select>
              {s.schedule.mode === 'daily'
                ? <input type="time" value={s.schedule.dailyAt} onInput={(e) => set('schedule', { ...s.schedule, dailyAt: value(e) })} />
                : <input type="number" min={5} value={s.schedule.intervalMinutes} onInput={(e) => set('schedule', { ...s.schedule, intervalMinutes: Number(value(e)) })} />}
            </span>
          )}
        </Field>
        <fieldset>
          <legend>Listed, and releasable by the recipient</legend>
          {CATEGORIES.map(([c, label]) => (
            <label><input type="checkbox" checked={s.categories.includes(c)} onChange={(e) => set('categories', (e.currentTarget as HTMLInputElement).checked ? [...s.categories, c] : s.categories.filter((x) => x !== c))} /> {label}</label>
          ))}
          {errors.categories && <span class="field-error">{errors.categories}</span>}
        </fieldset>
        <Field label="Address end users reach the master at (links start with it)" name="baseUrl" error={errors.baseUrl} form={form}>
          {(a) => <input {...a} value={s.baseUrl} placeholder="https://quarantine.example.com" onInput={(e) => set('baseUrl', value(e))} />}
        </Field>
        <Field label="From name" name="fromName" error={errors.fromName} form={form}>{(a) => <input {...a} value={s.fromName} onInput={(e) => set('fromName', value(e))} />}</Field>
        <Field label="Default sender (empty: postmaster@ the recipient's domain)" name="defaultSender" error={errors.defaultSender} form={form}>
          {(a) => <input {...a} value={s.defaultSender} onInput={(e) => set('defaultSender', value(e))} />}
        </Field>
        <Field label="Sender per domain (one per line: domain = address)" name="senders" error={errors.senders} form={form}>
          {(a) => <textarea {...a} rows={3} value={senders} onInput={(e) => setSenders(value(e))} />}
        </Field>
        <Field label="Links work for (hours)" name="linkHours" error={errors.linkHours} form={form}>
          {(a) => <input {...a} type="number" min={1} max={720} value={s.linkHours} onInput={(e) => set('linkHours', Number(value(e)))} />}
        </Field>
        <Field label="End-user page stays open for (minutes)" name="sessionMinutes" error={errors.sessionMinutes} form={form}>
          {(a) => <input {...a} type="number" min={5} max={1440} value={s.sessionMinutes} onInput={(e) => set('sessionMinutes', Number(value(e)))} />}
        </Field>
        <Field label="Subject template" name="templates" error={errors.templates} form={form}>
          {(a) => <input {...a} value={s.templates.subject} onInput={(e) => set('templates', { ...s.templates, subject: value(e) })} />}
        </Field>
        <label>Text template<textarea rows={12} value={s.templates.text} onInput={(e) => set('templates', { ...s.templates, text: value(e) })} /></label>
        <label>HTML template (empty: text only)<textarea rows={12} value={s.templates.html} onInput={(e) => set('templates', { ...s.templates, html: value(e) })} /></label>
        <p class="hint">Placeholders: {'{{recipient}} {{count}} {{portalUrl}} {{linkHours}} {{date}}'}; inside {'{{#messages}}…{{/messages}}'} also {'{{sender}} {{subject}} {{time}} {{reason}} {{releaseUrl}} {{allowUrl}} {{deleteUrl}}'}. Values are escaped.</p>
        <div class="row">
          <button type="submit">Save</button>
          <button type="button" onClick={runNow}>Send digests now</button>
        </div>
      </form>
    </section>
  );
}
