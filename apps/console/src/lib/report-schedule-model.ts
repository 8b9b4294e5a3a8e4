/**
 * The scheduled-report form's model (pure): the API's schedule ⇄ the form's text fields, and
 * the API's field errors (`recipients.1`) as messages beside their inputs ("entry 2 (value): …").
 */

export type TopKind = 'sender' | 'sender_domain' | 'recipient' | 'blocked_sender' | 'virus' | 'spf_fail' | 'dkim_fail' | 'dmarc_fail';
export type Weekday = 'sunday' | 'monday' | 'tuesday' | 'wednesday' | 'thursday' | 'friday' | 'saturday';

export interface Schedule {
  name: string;
  enabled: boolean;
  period: 'daily' | 'weekly';
  sendAt: string;
  weekday: Weekday;
  recipients: string[];
  sender: string;
  traffic: boolean;
  topLists: TopKind[];
  topLimit: number;
  quarantine: boolean;
  domains: string[];
}

export const TOP_LABELS: readonly [TopKind, string][] = [
  ['sender', 'Top senders'], ['sender_domain', 'Top sender domains'], ['recipient', 'Top recipients'], ['blocked_sender', 'Top blocked senders'],
  ['virus', 'Viruses found'], ['spf_fail', 'Domains failing SPF'], ['dkim_fail', 'Domains failing DKIM'], ['dmarc_fail', 'Domains failing DMARC'],
];
export const WEEKDAYS: readonly Weekday[] = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];

/** The form: the schedule with its lists as one entry a line. */
export interface ScheduleForm extends Omit<Schedule, 'recipients' | 'domains'> {
  recipients: string;
  domains: string;
}

export const NEW_SCHEDULE: Schedule = {
  name: '', enabled: true, period: 'daily', sendAt: '07:00', weekday: 'monday', recipients: [], sender: '',
  traffic: true, topLists: ['sender', 'sender_domain', 'recipient', 'blocked_sender'], topLimit: 10, quarantine: true, domains: [],
};

export const toForm = (s: Schedule): ScheduleForm => ({ ...s, recipients: s.recipients.join('\n'), domains: s.domains.join('\n') });

/** One entry a line (commas and spaces split too); blank lines dropped; domains lower-cased. */
const lines = (text: string) => text.split(/[\n,;\s]+/).map((l) => l.trim()).filter(Boolean);

export function fromForm(f: ScheduleForm): Schedule {
  // The top lists keep the page's order, which is the mail's.
  const topLists = TOP_LABELS.map(([k]) => k).filter((k) => f.topLists.includes(k));
  return { ...f, recipients: lines(f.recipients), domains: lines(f.domains).map((d) => d.toLowerCase()), topLists };
}

/** `HH:MM UTC, daily` / `Mondays 07:00 UTC`. */
export function describeTiming(s: Pick<Schedule, 'period' | 'sendAt' | 'weekday'>): string {
  return s.period === 'weekly' ? `weekly, ${s.weekday[0]!.toUpperCase()}${s.weekday.slice(1)}s at ${s.sendAt} UTC` : `daily at ${s.sendAt} UTC`;
}

/**
 * A 400's problems by form field: `recipients.1` → `recipients`: "entry 2 (value): message", so the
 * admin sees which entry of the list is wrong. Fields the form does not have go under ''.
 */
export function scheduleErrors(problems: readonly { field: string; message: string }[], form: ScheduleForm): Record<string, string> {
  const out: Record<string, string> = {};
  const add = (k: string, m: string) => (out[k] = out[k] ? `${out[k]}; ${m}` : m);
  const fields = new Set(Object.keys(form));
  for (const p of problems) {
    const [name = '', index] = p.field.replace(/^body\./, '').split('.');
    if (!fields.has(name)) {
      add('', `${p.field}: ${p.message}`);
      continue;
    }
    if (index !== undefined && (name === 'recipients' || name === 'domains')) {
      const entries = lines(form[name]);
      add(name, `entry ${Number(index) + 1} (${entries[Number(index)] ?? ''}): ${p.message}`);
    } else add(name, p.message);
  }
  return out;
}
