import { Type, type Static } from 'typebox';
import { CURSOR_PATTERN } from '../../data/cursor.ts';
import { MAX_PAGE } from '../../data/search-filters.ts';
import { TIME_INPUT_PATTERN } from '../../data/time-input.ts';
import { NullableTimestamp, Timestamp } from '../../http/schemas.ts';

/** Schemas of the message log, quarantine and report routes: validation, types and OpenAPI in one. */

export const MessageIdSchema = Type.String({ pattern: '^[0-9A-Za-z]{20}$', description: 'A message queue id: 20 letters and digits.' });
export const NodeIdSchema = Type.String({ pattern: '^[0-9a-f]{16}$', description: 'A node id: 16 hex digits.' });

const TimeInput = (description: string) => Type.String({ pattern: TIME_INPUT_PATTERN, description: `${description} Epoch milliseconds or ISO 8601 (UTC unless a zone is given).` });
const Address = (who: string) =>
  Type.String({ minLength: 1, maxLength: 512, description: `${who} address, or \`@domain\` for a whole domain; case-insensitive. See \`match\`.` });

/** Filters common to the message log and quarantine searches. */
const searchFilters = {
  sender: Type.Optional(Address('Sender')),
  recipient: Type.Optional(Address('Recipient (any of the message\'s recipients)')),
  match: Type.Optional(Type.Union([Type.Literal('exact'), Type.Literal('contains')], {
    default: 'exact',
    description: '`exact` (default, indexed): the whole address, or a whole domain with `@domain`. `contains`: any part of the address (a scan bounded by the time range).',
  })),
  subject: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Part of the subject, case-insensitive.' })),
  node: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$', description: 'Only messages handled by this node (name or id).' })),
  from: Type.Optional(TimeInput('Only messages at or after this time.')),
  to: Type.Optional(TimeInput('Only messages before this time.')),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE, default: 50, description: `Page size, at most ${MAX_PAGE}.` })),
  cursor: Type.Optional(Type.String({ pattern: CURSOR_PATTERN, description: 'The `next` of the previous page.' })),
};

export const ActionSchema = Type.Union([Type.Literal('deliver'), Type.Literal('tag'), Type.Literal('quarantine'), Type.Literal('reject')], {
  description: 'The verdict: deliver, tag (delivered with headers), quarantine or reject.',
});

export const MessagesQuery = Type.Object(
  {
    ...searchFilters,
    action: Type.Optional(ActionSchema),
    status: Type.Optional(Type.String({ pattern: '^[a-z-]{1,32}$', description: 'queued, quarantined, rejected, deferred, delivered, bounced, partially-bounced or refused.' })),
  },
  { additionalProperties: false },
);
export type MessagesQueryT = Static<typeof MessagesQuery>;

export const QuarantineStatusSchema = Type.Union([Type.Literal('held'), Type.Literal('released'), Type.Literal('deleted'), Type.Literal('expired')], { description: 'held, released, deleted, or expired (purged by the quarantine lifetime on its node).' });

export const QuarantineQuery = Type.Object(
  {
    ...searchFilters,
    status: Type.Optional(Type.Union([Type.Literal('held'), Type.Literal('released'), Type.Literal('deleted'), Type.Literal('expired'), Type.Literal('all')], {
      default: 'held', description: 'held (default), released, deleted or all.',
    })),
  },
  { additionalProperties: false },
);
export type QuarantineQueryT = Static<typeof QuarantineQuery>;

const ReasonSchema = Type.Object(
  {
    kind: Type.String({ description: 'Which filter: list, size, attachment, content, auth, virus, spam…' }),
    rule: Type.String({ description: 'The rule or list that matched.' }),
    match: Type.String({ description: 'What matched.' }),
    action: Type.Optional(Type.String({ description: 'The action this reason asked for.' })),
    score: Type.Optional(Type.Number({ description: 'Score it added.' })),
  },
  { description: 'Why the verdict was reached.' },
);

const nodeFields = {
  nodeId: Type.String({ description: 'The node that handled the message.' }),
  nodeName: Type.Union([Type.String(), Type.Null()], { description: 'Its name (null if the node is no longer registered).' }),
  id: Type.String({ description: 'Queue id, unique per node.' }),
};

export const MessageSummarySchema = Type.Object({
  ...nodeFields,
  receivedAt: Timestamp('When the message was received.'),
  clientIp: Type.String({ description: 'Address of the sending MTA.' }),
  mailFrom: Type.String({ description: 'Envelope sender (lower-cased; empty for the null sender).' }),
  firstRcpt: Type.String({ description: 'First envelope recipient.' }),
  rcptCount: Type.Integer({ description: 'Number of envelope recipients.' }),
  subject: Type.String({ description: 'Subject header.' }),
  size: Type.Integer({ description: 'Size in bytes.' }),
  action: Type.String({ description: 'The verdict: deliver, tag, quarantine or reject.' }),
  score: Type.Number({ description: 'Total score.' }),
  status: Type.String({ description: 'queued, quarantined, rejected, deferred, delivered, bounced, partially-bounced, or refused (a transaction refused before DATA).' }),
});

export const MessageDetailSchema = Type.Object({
  ...MessageSummarySchema.properties,
  helo: Type.String({ description: 'HELO/EHLO name of the sending MTA.' }),
  rcptTo: Type.Array(Type.String(), { description: 'Every envelope recipient.' }),
  messageId: Type.String({ description: 'Message-ID header.' }),
  reasons: Type.Array(ReasonSchema, { description: 'Every reason behind the verdict.' }),
  rulesVersion: Type.Integer({ description: 'Rules version the verdict was made under.' }),
  delivery: Type.Object(
    {
      attempts: Type.Integer({ description: 'Relay attempts so far.' }),
      lastAttemptAt: NullableTimestamp('When the last attempt was made.'),
      delivered: Type.Array(Type.String(), { description: 'Recipients the downstream server accepted.' }),
      deferred: Type.Array(Type.String(), { description: 'Recipients still being retried.' }),
      bounced: Type.Array(Type.String(), { description: 'Recipients refused for good (a DSN went to the sender).' }),
      detail: Type.String({ description: 'Last reply or error from the downstream server.' }),
      dsnStatus: Type.Union([Type.String(), Type.Null()], { description: 'Fate of the bounce notice sent to the sender, if any.' }),
    },
    { description: 'Relay to the downstream server.' },
  ),
  quarantine: Type.Union(
    [Type.Object({ status: QuarantineStatusSchema, statusAt: NullableTimestamp('When the status last changed.') }), Type.Null()],
    { description: 'The quarantine entry, if the message was quarantined.' },
  ),
  retained: Type.Union(
    [
      Type.Object({
        status: Type.Union([Type.Literal('kept'), Type.Literal('expired')], { description: '`kept`: view, download or re-deliver it; `expired`: removed from its node.' }),
        size: Type.Integer({ description: 'Size of the copy in bytes.' }),
        expiredAt: NullableTimestamp('When the node removed the copy.'),
        reason: Type.Union([Type.String(), Type.Null()], { description: 'Why it was removed: `age` (past the retention days) or `budget` (oldest over the disk budget).' }),
      }),
      Type.Null(),
    ],
    { description: 'The copy of the message kept on its node (retention), if one was kept.' },
  ),
  refusal: Type.Union(
    [
      Type.Object({
        stage: Type.Union([Type.Literal('connect'), Type.Literal('mail'), Type.Literal('rcpt')], { description: 'The SMTP stage that was refused.' }),
        reply: Type.String({ description: 'The SMTP reply the client got, e.g. `550 5.7.1 Relaying denied`.' }),
        count: Type.Integer({ description: 'Refused transactions this entry stands for: more than 1 when the scanner aggregated a flood from one address.' }),
        firstAt: Timestamp('The first refusal it stands for.'),
        lastAt: Timestamp('The last refusal it stands for.'),
      }),
      Type.Null(),
    ],
    { description: 'Set when the entry is a transaction refused at connect, MAIL FROM or RCPT TO (status `refused`, action `reject`); null for a received message.' },
  ),
});

export const QuarantineEntrySchema = Type.Object({
  ...nodeFields,
  createdAt: Timestamp('When the message was quarantined.'),
  mailFrom: Type.String({ description: 'Envelope sender (lower-cased).' }),
  firstRcpt: Type.String({ description: 'First envelope recipient.' }),
  rcptCount: Type.Integer({ description: 'Number of envelope recipients.' }),
  subject: Type.String({ description: 'Subject header.' }),
  size: Type.Integer({ description: 'Size in bytes.' }),
  score: Type.Number({ description: 'Total score.' }),
  status: QuarantineStatusSchema,
  statusAt: NullableTimestamp('When it was released or deleted.'),
});

export const QuarantineDetailSchema = Type.Object({
  ...QuarantineEntrySchema.properties,
  rcptTo: Type.Array(Type.String(), { description: 'Every envelope recipient.' }),
  reasons: Type.Array(ReasonSchema, { description: 'Every reason it was quarantined.' }),
});

export const pageOf = <T extends Parameters<typeof Type.Array>[0]>(item: T, what: string) =>
  Type.Object({
    items: Type.Array(item, { description: `${what}, newest first.` }),
    next: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `cursor` for the next (older) page; null on the last page.' }),
  });
