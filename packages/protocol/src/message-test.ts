import { Type, type Static } from 'typebox';

/**
 * "What would happen to this message?" (issue 20): the master asks a scanner to run a message
 * through its content analysis, its analyzers (engines included) and the rules, under the rules
 * in force or a draft, and to answer the explanation. A dry run: nothing is stored, relayed,
 * quarantined, logged as mail or learned; greylisting and recipient verification (which record
 * a triplet or probe a server) are not run. Added in protocol version 7: never sent to a peer
 * that speaks 6 (the master answers 502 MOAT_ERR_NODE_TOO_OLD).
 */
export const MESSAGE_TEST_PROTOCOL_VERSION = 7;
/** Largest message a test carries: base64 in one frame, with room for a draft rules document. */
export const MAX_TEST_MESSAGE_BYTES = 2 * 1024 * 1024;

const RequestId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' });
const Address = Type.String({ maxLength: 320, pattern: '^[^\\s<>]*$' });

export const TestEnvelopeSchema = Type.Object(
  {
    clientIp: Type.String({ minLength: 2, maxLength: 64, pattern: '^[0-9A-Fa-f.:]+$', description: 'The connecting client\'s address (IPv4 or IPv6).' }),
    helo: Type.String({ maxLength: 255, description: 'What the client said at HELO/EHLO.' }),
    mailFrom: Type.String({ maxLength: 320, pattern: '^[^\\s<>]*$', description: 'MAIL FROM, without angle brackets; empty for the null sender.' }),
    rcptTo: Type.Array(Type.String({ minLength: 3, maxLength: 320, pattern: '^[^\\s<>@]+@[^\\s<>@]+$' }), { minItems: 1, maxItems: 100, description: 'RCPT TO addresses.' }),
  },
  { additionalProperties: false },
);
export type TestEnvelope = Static<typeof TestEnvelopeSchema>;

/** master → scanner: run this message (base64) with this envelope; answered by `result` whose data is a MessageTestAnswer. */
export const MessageTestFrame = Type.Object(
  {
    type: Type.Literal('message.test'),
    id: RequestId,
    envelope: TestEnvelopeSchema,
    data: Type.String({ minLength: 1, maxLength: Math.ceil((MAX_TEST_MESSAGE_BYTES * 4) / 3) + 4, description: 'The whole message (RFC 5322), base64.' }),
    rules: Type.Optional(Type.Unknown({ description: 'A draft rules document (validated by the scanner with validateRules); absent: the rules in force.' })),
  },
  { additionalProperties: false },
);
export type MessageTest = Static<typeof MessageTestFrame>;

const ReasonSchema = Type.Object({
  kind: Type.String({ description: 'ip-list, sender-list, recipient-list, content, attachment, size, score, virus or analyzer.' }),
  rule: Type.String({ description: 'The rule id, list name or analyzer (engine signal) that fired.' }),
  match: Type.String({ description: 'What matched; for an engine, its whole answer, the weight and the detection model version.' }),
  action: Type.Optional(Type.String({ description: 'The action this reason asks for, if any.' })),
  score: Type.Optional(Type.Number({ description: 'Its share of the score.' })),
});

const StageSchema = Type.Object({
  stage: Type.Union([Type.Literal('connect'), Type.Literal('mail'), Type.Literal('rcpt'), Type.Literal('data')]),
  subject: Type.String({ description: 'What was checked: the client address, the sender, a recipient, the message size.' }),
  ok: Type.Boolean(),
  allowed: Type.Boolean({ description: 'An allow-list decided (later checks skipped).' }),
  reply: Type.String({ description: 'What the client would get at this stage (code and text).' }),
  reason: Type.Optional(ReasonSchema),
});

export const MessageTestAnswerSchema = Type.Object({
  rules: Type.Union([Type.Integer({ minimum: 0 }), Type.Literal('draft')], { description: 'The rules version judged by, or `draft`.' }),
  modelVersion: Type.String({ description: 'The detection model the engines\' signals were weighed by.' }),
  envelope: Type.Array(StageSchema, { description: 'The SMTP-stage checks, in order (greylisting and recipient verification are not run).' }),
  refusedAt: Type.Union([Type.Literal('connect'), Type.Literal('mail'), Type.Literal('rcpt'), Type.Literal('data'), Type.Null()], { description: 'Where the transaction would end before the content is judged; null: it reaches the verdict.' }),
  verdict: Type.Object({
    action: Type.String({ description: 'deliver, tag, quarantine or reject.' }),
    score: Type.Number(),
    allowed: Type.Boolean(),
    reasons: Type.Array(ReasonSchema),
    reply: Type.String({ description: 'What the client would get after DATA.' }),
    thresholds: Type.Object({ tag: Type.Number(), quarantine: Type.Number(), reject: Type.Number() }),
  }),
  analyzers: Type.Array(Type.String(), { description: 'The analyzers that ran on this node.' }),
  tempFail: Type.Optional(Type.Object({ analyzer: Type.String(), detail: Type.String() }, { description: 'An engine was unavailable and its fallback is temp-fail: the message would get 451 and be retried.' })),
  message: Type.Object({ size: Type.Integer({ minimum: 0 }), subject: Type.String(), attachments: Type.Integer({ minimum: 0 }) }),
});
export type MessageTestAnswer = Static<typeof MessageTestAnswerSchema>;
