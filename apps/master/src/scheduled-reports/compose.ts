import MailComposer from 'nodemailer/lib/mail-composer';
import type { RenderedReport } from './render.ts';
import type { ReportSchedule } from './schedule-schema.ts';

export interface ComposedReport {
  readonly mailFrom: string;
  readonly raw: Buffer;
}

/** The From address: the schedule's, else postmaster@ the first recipient's domain (as digests do). */
export function reportSender(schedule: Pick<ReportSchedule, 'sender' | 'recipients'>): string {
  if (schedule.sender) return schedule.sender;
  const first = schedule.recipients[0]!;
  return `postmaster@${first.slice(first.lastIndexOf('@') + 1).toLowerCase()}`;
}

/**
 * The report as one MIME message to all its recipients: text and HTML alternatives, built by
 * nodemailer's composer (the digests' mail library: RFC 2047 headers, quoted-printable lines).
 * Marked as automatic (RFC 3834) so vacation responders stay quiet. `messageId` is stable for
 * a scheduled round, so a copy sent twice after a crash is recognisably the same message.
 */
export async function composeReport(schedule: ReportSchedule, report: RenderedReport, messageId: string, date: Date): Promise<ComposedReport> {
  const mailFrom = reportSender(schedule);
  const composer = new MailComposer({
    from: { name: 'Moat reports', address: mailFrom },
    to: [...schedule.recipients],
    subject: report.subject,
    text: report.text,
    html: report.html,
    date,
    messageId,
    headers: { 'Auto-Submitted': 'auto-generated', 'X-Moat-Report': '1' },
  });
  const raw = await new Promise<Buffer>((resolve, reject) => composer.compile().build((err, message) => (err ? reject(err) : resolve(message))));
  return { mailFrom, raw };
}
