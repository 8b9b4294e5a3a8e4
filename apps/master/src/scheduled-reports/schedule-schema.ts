import { Type, type Static } from 'typebox';
import { ConfigError, validateDocument, type FieldError } from '@moat/config';
import { TOP_KINDS } from '../data/rollups.ts';

const Address = Type.String({ minLength: 3, maxLength: 320, pattern: '^[^\\s<>@,;]+@[^\\s<>@,;]+$' });

export const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export const TopKindSchema = Type.Union([
  Type.Literal('sender'), Type.Literal('sender_domain'), Type.Literal('recipient'), Type.Literal('blocked_sender'),
  Type.Literal('virus'), Type.Literal('spf_fail'), Type.Literal('dkim_fail'), Type.Literal('dmarc_fail'),
], {
  description: 'sender, sender_domain, recipient, blocked_sender (senders of rejected mail), virus (signature names), spf_fail, dkim_fail, dmarc_fail (failing domains).',
});

/**
 * One scheduled report (`POST /api/v1/reports/schedules`): when it is sent, to whom, and which
 * reports it holds. Figures come from the reports' roll-ups and the quarantine index, over whole
 * UTC days: a daily report covers the day before its send day, a weekly one the seven days before.
 */
export const ReportScheduleSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100, description: 'Shown in the subject and the console, e.g. `Daily traffic`.' }),
    enabled: Type.Boolean({ default: true, description: 'Send it on its schedule. *Send now* works either way.' }),
    period: Type.Union([Type.Literal('daily'), Type.Literal('weekly')], { default: 'daily', description: '`daily`: the previous UTC day, sent every day; `weekly`: the previous seven UTC days, sent on `weekday`.' }),
    sendAt: Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', default: '07:00', description: 'HH:MM, UTC: when on its day the report is sent.' }),
    weekday: Type.Union([Type.Literal('sunday'), Type.Literal('monday'), Type.Literal('tuesday'), Type.Literal('wednesday'), Type.Literal('thursday'), Type.Literal('friday'), Type.Literal('saturday')], { default: 'monday', description: 'The day a weekly report is sent (ignored for daily).' }),
    recipients: Type.Array(Address, { minItems: 1, maxItems: 50, uniqueItems: true, description: 'Who gets it: one message to all of them.' }),
    sender: Type.Union([Address, Type.Literal('')], { default: '', description: 'From address; empty: `postmaster@` the first recipient\'s domain.' }),
    traffic: Type.Boolean({ default: true, description: 'Messages per verdict and their volume: the period\'s total, each day of a weekly report, and each node.' }),
    topLists: Type.Array(TopKindSchema, { uniqueItems: true, maxItems: TOP_KINDS.length, default: ['sender', 'sender_domain', 'recipient', 'blocked_sender'], description: 'Which top lists, in this order.' }),
    topLimit: Type.Integer({ minimum: 1, maximum: 50, default: 10, description: 'Rows in each top list.' }),
    quarantine: Type.Boolean({ default: true, description: 'Quarantine summary per recipient domain: messages held in the period, how many are still held, released, deleted; and what the quarantine holds now.' }),
    domains: Type.Array(Type.String({ minLength: 3, maxLength: 253, pattern: '^[a-z0-9-]+(\\.[a-z0-9-]+)+$' }), {
      uniqueItems: true,
      maxItems: 500,
      default: [],
      description: 'Only these recipient domains (lower case) in the quarantine summary, e.g. for a domain\'s own admins; empty: every domain. The traffic and top lists are always the cluster\'s.',
    }),
  },
  { additionalProperties: false },
);
export type ReportSchedule = Static<typeof ReportScheduleSchema>;

/** The one gate a schedule passes: the schema with its defaults, then that it holds a report. ConfigError names each bad key. */
export function validateReportSchedule(input: unknown): ReportSchedule {
  const schedule = validateDocument(ReportScheduleSchema, input, 'report schedule');
  const errors: FieldError[] = [];
  if (!schedule.traffic && !schedule.quarantine && schedule.topLists.length === 0) {
    errors.push({ key: 'topLists', message: 'the report would be empty: choose traffic, quarantine or at least one top list' });
  }
  if (schedule.name.trim() === '') errors.push({ key: 'name', message: 'must not be blank' });
  if (errors.length > 0) throw new ConfigError('report schedule', errors);
  return schedule;
}
