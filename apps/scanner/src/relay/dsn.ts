import { randomBytes } from 'node:crypto';

export interface FailedRecipient {
  readonly address: string;
  readonly status: string; // enhanced status code, e.g. 5.1.1
  readonly diagnostic: string; // the remote server's reply, or our reason
}

export interface DsnInput {
  readonly reportingMta: string;
  readonly originalSender: string;
  readonly arrivalDate: Date;
  readonly queueId: string;
  readonly failed: readonly FailedRecipient[];
  /** The original message's header block (bounded by the caller). */
  readonly originalHeaders: string;
  readonly now: Date;
}

/**
 * A delivery status notification (RFC 3464): multipart/report with a human part, the
 * machine-readable message/delivery-status part, and the original headers (RFC 6522).
 * Sent from the null sender so that it can never bounce back (RFC 5321 §4.5.5).
 */
export function buildDsn(input: DsnInput): string {
  const boundary = `moat-dsn-${randomBytes(8).toString('hex')}`;
  const clean = (s: string) => s.replace(/[\r\n]+/g, ' ').slice(0, 500);
  const human = [
    `This is the mail gateway at ${input.reportingMta}.`,
    '',
    'Your message could not be delivered to the following recipients:',
    '',
    ...input.failed.map((f) => `  <${f.address}>: ${clean(f.diagnostic)}`),
    '',
    `Queue id: ${input.queueId}`,
  ].join('\r\n');
  const perMessage = [`Reporting-MTA: dns; ${input.reportingMta}`, `X-Moat-Queue-ID: ${input.queueId}`, `Arrival-Date: ${input.arrivalDate.toUTCString()}`].join('\r\n');
  const perRecipient = input.failed
    .map((f) => [`Final-Recipient: rfc822; ${f.address}`, 'Action: failed', `Status: ${f.status}`, `Diagnostic-Code: smtp; ${clean(f.diagnostic)}`].join('\r\n'))
    .join('\r\n\r\n');
  return [
    `From: Mail Delivery System <MAILER-DAEMON@${input.reportingMta}>`,
    `To: <${input.originalSender}>`,
    'Subject: Undelivered Mail Returned to Sender',
    `Date: ${input.now.toUTCString()}`,
    `Message-ID: <${input.queueId}.dsn.${randomBytes(4).toString('hex')}@${input.reportingMta}>`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    '',
    human,
    '',
    `--${boundary}`,
    'Content-Type: message/delivery-status',
    '',
    perMessage,
    '',
    perRecipient,
    '',
    `--${boundary}`,
    'Content-Type: text/rfc822-headers',
    '',
    input.originalHeaders.replace(/\r?\n/g, '\r\n').trimEnd(),
    '',
    `--${boundary}--`,
    '',
  ].join('\r\n');
}

/** Map a reply code to an enhanced status when the server gave none. */
export function statusFromReply(code: number | undefined, text: string): string {
  const m = /\b([245]\.\d{1,3}\.\d{1,3})\b/.exec(text);
  if (m?.[1]) return m[1];
  if (code && code >= 500) return '5.0.0';
  return '4.0.0';
}
