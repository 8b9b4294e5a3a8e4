import { Type, type Static } from 'typebox';

/** Which held messages a digest lists and an end user may release, by why they were held. */
export const CategorySchema = Type.Union([Type.Literal('spam'), Type.Literal('attachment'), Type.Literal('virus')], {
  description: '`spam`: content rules, scores, analyzers, sender authentication; `attachment`: the attachment policy; `virus`: a virus scanner found something.',
});
export type Category = Static<typeof CategorySchema>;

const Address = Type.String({ minLength: 3, maxLength: 320, pattern: '^[^\\s<>@]+@[^\\s<>@]+$' });

export const DEFAULT_SUBJECT = 'Quarantine: {{count}} message(s) held for {{recipient}}';
export const DEFAULT_TEXT = `Hello,

{{count}} message(s) addressed to {{recipient}} were held in quarantine.
Each link below works for {{linkHours}} hours.
{{#messages}}
From:    {{sender}}
Subject: {{subject}}
Time:    {{time}}
Why:     {{reason}}
Expires: {{expires}} (then it is deleted)
  Release:                    {{releaseUrl}}
  Release and allow sender:   {{allowUrl}}
  Delete:                     {{deleteUrl}}
{{/messages}}
Your quarantine and your allow and block lists: {{portalUrl}}
`;
export const DEFAULT_HTML = `<!doctype html>
<html><body style="font-family:sans-serif">
<p>{{count}} message(s) addressed to <b>{{recipient}}</b> were held in quarantine. Each link works for {{linkHours}} hours.</p>
<table cellpadding="6" style="border-collapse:collapse">
<tr><th align="left">From</th><th align="left">Subject</th><th align="left">Time</th><th align="left">Why</th><th align="left">Expires</th><th></th></tr>
{{#messages}}<tr style="border-top:1px solid #ccc"><td>{{sender}}</td><td>{{subject}}</td><td>{{time}}</td><td>{{reason}}</td><td>{{expires}}</td>
<td><a href="{{releaseUrl}}">Release</a> · <a href="{{allowUrl}}">Release and allow sender</a> · <a href="{{deleteUrl}}">Delete</a></td></tr>
{{/messages}}</table>
<p><a href="{{portalUrl}}">Your quarantine and your allow and block lists</a></p>
</body></html>
`;

/**
 * The cluster's digest settings (edited by an admin through /api/v1/digests/settings). Stored
 * as one validated document in the master database; defaults fill anything left out.
 */
export const DigestSettingsSchema = Type.Object(
  {
    enabled: Type.Boolean({ default: false, description: 'Send digests on the schedule. `POST /api/v1/digests/run` sends one round now either way.' }),
    schedule: Type.Object(
      {
        mode: Type.Union([Type.Literal('daily'), Type.Literal('interval')], { default: 'daily', description: '`daily` at `dailyAt` (UTC), or every `intervalMinutes`.' }),
        dailyAt: Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', default: '08:00', description: 'HH:MM, UTC.' }),
        intervalMinutes: Type.Integer({ minimum: 5, maximum: 10_080, default: 1440 }),
      },
      { additionalProperties: false, default: {} },
    ),
    categories: Type.Array(CategorySchema, { uniqueItems: true, maxItems: 3, default: ['spam'], description: 'Held messages listed in digests and releasable by their recipients (others stay for an operator).' }),
    baseUrl: Type.String({
      maxLength: 500,
      default: '',
      pattern: '^(|https?://[^\\s/?#]+(/[^\\s?#]*)?)$',
      description: 'How end users reach this master (`https://quarantine.example.com`); links in digests start with it. Empty: the master\'s own listen URL.',
    }),
    defaultSender: Type.Union([Address, Type.Literal('')], { default: '', description: 'From address of digests; empty: `postmaster@` the recipient\'s domain.' }),
    senders: Type.Record(Type.String({ minLength: 1, maxLength: 253, pattern: '^[a-z0-9.-]+$' }), Address, {
      default: {},
      maxProperties: 1000,
      description: 'From address per recipient domain (lower-case domain → address), e.g. `{ "example.com": "quarantine@example.com" }`.',
    }),
    fromName: Type.String({ maxLength: 100, default: 'Mail quarantine', description: 'Display name on the From line.' }),
    linkHours: Type.Number({ minimum: 1, maximum: 720, default: 72, description: 'How long a link in a digest works.' }),
    sessionMinutes: Type.Integer({ minimum: 5, maximum: 1440, default: 30, description: 'How long the end-user page stays open after a link was followed.' }),
    maxAgeDays: Type.Integer({ minimum: 1, maximum: 60, default: 7, description: 'Held messages older than this are not listed any more.' }),
    maxMessages: Type.Integer({ minimum: 1, maximum: 500, default: 100, description: 'Most messages one digest lists; the rest follow in the next one.' }),
    templates: Type.Object(
      {
        subject: Type.String({ minLength: 1, maxLength: 300, default: DEFAULT_SUBJECT }),
        text: Type.String({ minLength: 1, maxLength: 20_000, default: DEFAULT_TEXT }),
        html: Type.String({ maxLength: 50_000, default: DEFAULT_HTML, description: 'Empty: text only.' }),
      },
      { additionalProperties: false, default: {}, description: 'Placeholders: {{recipient}} {{count}} {{portalUrl}} {{linkHours}} {{date}}; inside {{#messages}}…{{/messages}} also {{sender}} {{subject}} {{time}} {{reason}} {{expires}} (when the quarantine lifetime deletes it) {{releaseUrl}} {{allowUrl}} {{deleteUrl}}. Values are escaped.' },
    ),
  },
  { additionalProperties: false },
);
export type DigestSettings = Static<typeof DigestSettingsSchema>;
