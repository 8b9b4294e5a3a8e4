import MailComposer from 'nodemailer/lib/mail-composer';
import { escapeHtml, plainText, renderTemplate, type TemplateValues } from './template.ts';
import type { DigestSettings } from './settings-schema.ts';

export interface ComposedDigest {
  readonly mailFrom: string;
  readonly raw: Buffer;
}

/** The From address of a digest to `recipient`: the domain's own, the default, or postmaster@ its domain. */
export function digestSender(settings: DigestSettings, recipient: string): string {
  const domain = recipient.slice(recipient.lastIndexOf('@') + 1).toLowerCase();
  return settings.senders[domain] ?? (settings.defaultSender || `postmaster@${domain}`);
}

/**
 * The digest as a MIME message (text, and HTML unless its template is empty), built by
 * nodemailer's composer so headers are encoded properly (RFC 2047 for a non-ASCII subject).
 * Marked as automatic (RFC 3834) so that vacation responders stay quiet.
 */
export async function composeDigest(settings: DigestSettings, recipient: string, values: TemplateValues, messageIdDomain: string, date: Date): Promise<ComposedDigest> {
  const from = digestSender(settings, recipient);
  const { templates } = settings;
  const composer = new MailComposer({
    from: { name: plainText(settings.fromName), address: from },
    to: recipient,
    subject: renderTemplate(templates.subject, values, plainText).slice(0, 900),
    text: renderTemplate(templates.text, values, (v) => plainText(v)),
    ...(templates.html.trim() === '' ? {} : { html: renderTemplate(templates.html, values, escapeHtml) }),
    date,
    messageId: `<digest.${date.getTime().toString(36)}.${Math.random().toString(36).slice(2, 10)}@${messageIdDomain}>`,
    headers: { 'Auto-Submitted': 'auto-generated', 'X-Moat-Digest': '1' },
  });
  const raw = await new Promise<Buffer>((resolve, reject) => composer.compile().build((err, message) => (err ? reject(err) : resolve(message))));
  return { mailFrom: from, raw };
}
