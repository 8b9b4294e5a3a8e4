/**
 * The digest templates: `{{name}}` inserts a value, `{{#messages}}…{{/messages}}` repeats its
 * body once per held message (one level, no other logic: an admin edits these, so they must
 * not be able to run anything). Values are escaped for the output: HTML-escaped in the HTML
 * template, control characters removed in the text and subject.
 */

export const DIGEST_FIELDS = ['recipient', 'count', 'portalUrl', 'linkHours', 'date'] as const;
export const MESSAGE_FIELDS = ['sender', 'subject', 'time', 'reason', 'expires', 'releaseUrl', 'allowUrl', 'deleteUrl'] as const;
export type DigestField = (typeof DIGEST_FIELDS)[number];
export type MessageField = (typeof MESSAGE_FIELDS)[number];

export interface TemplateValues {
  readonly digest: Readonly<Record<DigestField, string>>;
  readonly messages: readonly Readonly<Record<MessageField, string>>[];
}

const TAG = /\{\{\s*([#/]?)([A-Za-z]+)\s*\}\}/g;

/** What is wrong with a template, or undefined: unknown names, a section left open, nesting. */
export function templateProblem(template: string, allowSection = true): string | undefined {
  let inSection = false;
  for (const m of template.matchAll(TAG)) {
    const [, mark, name] = m as unknown as [string, string, string];
    if (mark === '#') {
      if (!allowSection || name !== 'messages') return `{{#${name}}} is not a section (only {{#messages}} in the body)`;
      if (inSection) return '{{#messages}} cannot be nested';
      inSection = true;
    } else if (mark === '/') {
      if (!inSection || name !== 'messages') return `{{/${name}}} closes nothing`;
      inSection = false;
    } else {
      const known: readonly string[] = inSection ? [...MESSAGE_FIELDS, ...DIGEST_FIELDS] : DIGEST_FIELDS;
      if (!known.includes(name)) return `unknown placeholder {{${name}}}${inSection ? '' : ` (outside {{#messages}} only ${DIGEST_FIELDS.join(', ')})`}`;
    }
  }
  return inSection ? '{{#messages}} is not closed' : undefined;
}

/** Render a template that passed templateProblem; `escape` is applied to every value. */
export function renderTemplate(template: string, values: TemplateValues, escape: (value: string) => string): string {
  const fill = (text: string, extra?: Readonly<Record<string, string>>) =>
    text.replace(TAG, (_all, _mark: string, name: string) => escape((extra as Record<string, string> | undefined)?.[name] ?? (values.digest as Record<string, string>)[name] ?? ''));
  return template.replace(/\{\{\s*#messages\s*\}\}([\s\S]*?)\{\{\s*\/messages\s*\}\}/g, (_all, body: string) =>
    values.messages.map((m) => fill(body, m)).join(''),
  ).replace(TAG, (all) => fill(all));
}

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Text and header values: no control characters (a subject cannot start a new header line). */
export function plainText(value: string): string {
  return value.replace(/[\u0000-\u001f\u007f]+/g, ' ');
}
