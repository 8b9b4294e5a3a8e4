import { Type, type Static } from 'typebox';

/**
 * Events a scanner records in its outbox and the master stores exactly once. Each is written
 * in the same transaction as the change it describes, so the master's view never runs ahead
 * of (or falls behind) what the scanner durably did.
 */

const Id = Type.String({ pattern: '^[0-9A-Za-z]{20}$', description: 'A message queue id.' });
const Address = Type.String({ maxLength: 512 });
const Reason = Type.Object(
  {
    kind: Type.String({ maxLength: 32 }),
    rule: Type.String({ maxLength: 256 }),
    match: Type.String({ maxLength: 512 }),
    action: Type.Optional(Type.String({ maxLength: 16 })),
    score: Type.Optional(Type.Number()),
  },
  { description: 'Why a verdict was reached.' },
);
const Action = Type.Union([Type.Literal('deliver'), Type.Literal('tag'), Type.Literal('quarantine'), Type.Literal('reject')]);

// --- Envelope-stage refusals (a transaction refused at connect, MAIL FROM or RCPT TO) ---
/**
 * Present on a `message.logged` entry that records a refused SMTP transaction rather than a
 * received message (action `reject`, status `refused`, no subject or size). A flood from one
 * client address is aggregated on the scanner: `count` > 1 says how many refusals this entry
 * stands for, between `firstAt` and `lastAt`; reports count each of them.
 */
export const RefusalSchema = Type.Object({
  stage: Type.Union([Type.Literal('connect'), Type.Literal('mail'), Type.Literal('rcpt')], { description: 'The SMTP stage that was refused.' }),
  reply: Type.String({ maxLength: 600, description: 'The SMTP reply sent, e.g. `550 5.7.1 Relaying denied`.' }),
  count: Type.Integer({ minimum: 1, description: 'Refused transactions this entry stands for (1 unless aggregated).' }),
  firstAt: Type.Integer({ minimum: 0 }),
  lastAt: Type.Integer({ minimum: 0 }),
});
export type Refusal = Static<typeof RefusalSchema>;
// --- end of envelope-stage refusals ---

export const MessageLoggedSchema = Type.Object({
  id: Id,
  receivedAt: Type.Integer({ minimum: 0 }),
  clientIp: Type.String({ maxLength: 64 }),
  helo: Type.String({ maxLength: 512 }),
  mailFrom: Address,
  rcptTo: Type.Array(Address, { maxItems: 10_000 }),
  subject: Type.String({ maxLength: 2000 }),
  messageId: Type.String({ maxLength: 2000 }),
  size: Type.Integer({ minimum: 0 }),
  action: Action,
  score: Type.Number(),
  reasons: Type.Array(Reason, { maxItems: 1000 }),
  rulesVersion: Type.Integer({ minimum: 0 }),
  status: Type.String({ maxLength: 32 }),
  retainedBytes: Type.Optional(Type.Integer({ minimum: 0, description: 'Present when the node kept a copy of the message (retention): its size on disk.' })),
  refusal: Type.Optional(RefusalSchema),
});
export type MessageLogged = Static<typeof MessageLoggedSchema>;

export const QuarantineAddedSchema = Type.Object({
  id: Id,
  file: Type.String({ maxLength: 64 }),
  createdAt: Type.Integer({ minimum: 0 }),
  mailFrom: Address,
  rcptTo: Type.Array(Address, { maxItems: 10_000 }),
  subject: Type.String({ maxLength: 2000 }),
  size: Type.Integer({ minimum: 0 }),
  score: Type.Number(),
  reasons: Type.Array(Reason, { maxItems: 1000 }),
});
export type QuarantineAdded = Static<typeof QuarantineAddedSchema>;

export const DeliveryStatusSchema = Type.Object({
  id: Id,
  kind: Type.Union([Type.Literal('message'), Type.Literal('dsn')]),
  delivered: Type.Array(Address),
  deferred: Type.Array(Address),
  bounced: Type.Array(Address),
  detail: Type.String({ maxLength: 1000 }),
  attempt: Type.Integer({ minimum: 1 }),
  at: Type.Integer({ minimum: 0 }),
});
export type DeliveryStatus = Static<typeof DeliveryStatusSchema>;

export const QuarantineChangedSchema = Type.Object({
  id: Id,
  status: Type.Union([Type.Literal('released'), Type.Literal('deleted')]),
  at: Type.Integer({ minimum: 0 }),
  // A purge by the quarantine lifetime is `deleted` with this: a master that knows it records
  // `expired`, an older one (which allows the extra key) `deleted`, so a newer scanner may report it.
  expired: Type.Optional(Type.Union([Type.Literal('age'), Type.Literal('budget')], { description: 'Purged by the quarantine lifetime: past its kind\'s days (`age`) or the oldest over the disk budget (`budget`).' })),
});
export type QuarantineChanged = Static<typeof QuarantineChangedSchema>;

// ── retention (issue 10) ─────────────────────────────────────────────────────
/** Retained copies the node removed (past their days, or the oldest ones over the disk budget). */
export const RetainedExpiredSchema = Type.Object({
  ids: Type.Array(Id, { minItems: 1, maxItems: 1000 }),
  reason: Type.Union([Type.Literal('age'), Type.Literal('budget')], { description: '`age`: older than the retention days; `budget`: the oldest copies over the disk budget.' }),
  at: Type.Integer({ minimum: 0 }),
});
export type RetainedExpired = Static<typeof RetainedExpiredSchema>;
// ── end retention ───────────────────────────────────────────────────────────

/** Event type → its payload schema; the master refuses an event whose payload does not fit. */
export const EVENT_SCHEMAS = {
  'message.logged': MessageLoggedSchema,
  'quarantine.added': QuarantineAddedSchema,
  'quarantine.changed': QuarantineChangedSchema,
  'delivery.status': DeliveryStatusSchema,
  'retained.expired': RetainedExpiredSchema,
} as const;
export type EventType = keyof typeof EVENT_SCHEMAS;
export const EVENT_TYPES = Object.keys(EVENT_SCHEMAS) as EventType[];

/** A scanner process run: 16 random hex digits drawn at every start (see OutboxEventSchema). */
export const OUTBOX_EPOCH_PATTERN = '^[0-9a-f]{16}$';

export const OutboxEventSchema = Type.Object({
  /**
   * Which run of the scanner wrote the event (protocol 2). A data folder restored from a backup,
   * or a disk snapshot, numbers its outbox again from where the copy stood; a new epoch at every
   * process start keeps (epoch, seq) unique anyway, so the master never takes a new event for a
   * re-sent one. Absent: written before the scanner spoke protocol 2 (or sent on a protocol 1 link).
   */
  epoch: Type.Optional(Type.String({ pattern: OUTBOX_EPOCH_PATTERN, description: 'The scanner run that wrote the event (random per process start).' })),
  seq: Type.Integer({ minimum: 1, description: 'The scanner\'s outbox sequence number: increasing within an epoch.' }),
  type: Type.Union(EVENT_TYPES.map((t) => Type.Literal(t))),
  payload: Type.Unknown({ description: 'Validated against EVENT_SCHEMAS[type].' }),
  createdAt: Type.Integer({ minimum: 0 }),
});
export type OutboxEvent = Static<typeof OutboxEventSchema>;
