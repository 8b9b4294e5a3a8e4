import { Type, type Static } from 'typebox';
import { OutboxEventSchema } from './events.ts';
import { LearnAckFrame, LearnEventFrame } from './learn.ts';
import { EngineHealthSchema, MAX_REPORTED_ENGINES } from './engines.ts';
import { MAX_REPORTED_ROUTES, RouteHealthSchema } from './routes.ts';
import { NodeMetricsSchema } from './node-metrics.ts';
import { MessageTestFrame } from './message-test.ts';
import { RecipientListsAckFrame, RecipientListsPushFrame } from './recipient-lists.ts';
import { CalloutCachedFrame, CalloutGetFrame, CalloutPutFrame, VerifySourcesFrame, VerifyTestFrame } from './verify.ts';

/**
 * Every frame of the master ⇄ scanner link. One JSON object per WebSocket text message, with a
 * `type` on every frame and an `id` on every request, echoed by its reply (`result`, chunks).
 *
 * Handshake: on open the master sends `challenge` (a fresh nonce); the scanner answers `hello`
 * signed with its own Ed25519 key (the master keeps only the public key). A first join also
 * carries the node's public key and a one-time join token an admin made for that node name. A
 * replayed hello carries an old nonce and fails; a forged one fails the signature. The master
 * answers `welcome` or `error` and closes.
 */
/**
 * The link's version. 1: the first. 2: outbox events carry the scanner run's `epoch` (the master
 * keys events on node, epoch, seq and content; absent on events written before); node key pairs
 * and one-time join tokens instead of the shared join secret and the HMAC credentials the master
 * kept (docs/security.md): version 1 is refused (OLDEST_PROTOCOL_VERSION); `learn.event` /
 * `learn.ack`, cluster-wide learning (learn.ts). 3: recipient verification (verify.ts):
 * `verify.sources`, `verify.test`, `callout.get` / `callout.cached` / `callout.put`. 4: per-domain routing: the heartbeat's
 * `routes` (routes.ts), each route's health on the scanner. 5: the heartbeat's `engines` (engines.ts), each
 * analyzer's engine up or down, its latency and last error. 6: the heartbeat's `metrics`
 * (node-metrics.ts), the scanner's counters (verdicts, SMTP refusals, relay outcomes) and
 * queue and disk gauges, which the master serves on its /metrics per node; `queue.bounce`, an
 * administrator bounces a queued message (QUEUE_BOUNCE_PROTOCOL_VERSION). 7: `message.test`
 * (message-test.ts), "what would happen to this message?" run on a scanner as a dry run. 8: the
 * end users' own lists apart from the rules (recipient-lists.ts): `recipient-lists.push` /
 * `recipient-lists.ack`, and the hello's `recipientListsVersion`; a link speaking 7 gets them
 * inside the rules pushed, as before.
 */
export const PROTOCOL_VERSION = 8;
/** The version that added `queue.bounce`: sent only on links that speak it. */
export const QUEUE_BOUNCE_PROTOCOL_VERSION = 6;
/** Hard cap on one frame; the largest legitimate frame is an events batch or a rules push. */
export const MAX_FRAME_BYTES = 4 * 1024 * 1024;
/** Content chunks of a streamed message. */
export const CHUNK_BYTES = 64 * 1024;

const RequestId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' });
const NodeName = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._-]+$' });
const MessageId = Type.String({ pattern: '^[0-9A-Za-z]{20}$' });
const Hex = (bytes: number) => Type.String({ pattern: `^[0-9a-f]{${bytes * 2}}$` });

// ── handshake ────────────────────────────────────────────────────────────────
export const ChallengeFrame = Type.Object({ type: Type.Literal('challenge'), protocol: Type.Integer(), nonce: Hex(32) }, { additionalProperties: false });
export const HelloFrame = Type.Object(
  {
    type: Type.Literal('hello'),
    protocol: Type.Integer({ minimum: 1 }),
    nodeName: NodeName,
    /** Present once the node has joined; absent for a join with a join token. */
    nodeId: Type.Optional(Type.String({ pattern: '^[0-9a-f]{16}$' })),
    /** The Ed25519 signature of the challenge (hex, 64 bytes); 32-byte version-1 HMACs still parse, to be refused by version. */
    proof: Type.String({ pattern: '^([0-9a-f]{64}|[0-9a-f]{128})$' }),
    /** A first join only: the one-time token an admin made for this node name. */
    joinToken: Type.Optional(Type.String({ pattern: '^moat-join-[0-9a-f]{64}$' })),
    /** A first join only: the node's Ed25519 public key (base64url, 32 bytes), which the master keeps. */
    publicKey: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{43}$' })),
    software: Type.String({ maxLength: 64 }),
    rulesVersion: Type.Integer({ minimum: 0 }),
    /** Protocol 8: the end-user lists version the node runs; absent counts as 0 (and in a hello offering 7, which a master speaking 7 would refuse with it). */
    recipientListsVersion: Type.Optional(Type.Integer({ minimum: 0 })),
    smtpAddress: Type.String({ maxLength: 128 }),
  },
  { additionalProperties: false },
);
export const WelcomeFrame = Type.Object(
  {
    type: Type.Literal('welcome'),
    protocol: Type.Integer(),
    nodeId: Type.String({ pattern: '^[0-9a-f]{16}$' }),
    heartbeatMs: Type.Integer({ minimum: 100 }),
  },
  { additionalProperties: false },
);

// ── both ways ────────────────────────────────────────────────────────────────
/** Upper bound on the upstreams one balancer report may list (keeps a heartbeat small). */
export const MAX_REPORTED_UPSTREAMS = 64;
/** The embedded balancer's status, as a scanner reports it in its heartbeat (a summary of `BalancerHandle.status()`). */
export const BalancerReportSchema = Type.Object(
  {
    holder: Type.Boolean({ description: 'This node accepts on the virtual address now.' }),
    listen: Type.Union([Type.String({ maxLength: 64 }), Type.Null()], { description: 'host:port of the virtual address while holding it.' }),
    election: Type.Union([
      Type.Object(
        {
          state: Type.Union([Type.Literal('init'), Type.Literal('backup'), Type.Literal('master'), Type.Literal('fault')], { description: 'fault: a tracked check failed, the node gave up the address.' }),
          priority: Type.Integer({ minimum: 0, maximum: 255 }),
          effectivePriority: Type.Optional(Type.Integer({ minimum: 0, maximum: 255, description: 'The priority advertised: configured, lowered by failed trackers.' })),
          master: Type.Union([Type.String({ maxLength: 64 }), Type.Null()], { description: 'Source address of the current holder, as this node sees it.' }),
        },
        { additionalProperties: false },
      ),
      Type.Null(),
    ], { description: 'Null: no election configured (this balancer always holds the address).' }),
    upstreams: Type.Array(
      Type.Object(
        {
          name: NodeName,
          healthy: Type.Boolean({ description: 'Active check result (true when checks are off).' }),
          usable: Type.Boolean({ description: 'A new connection could go there now.' }),
          down: Type.Boolean({ description: 'Maintenance: no new connections.' }),
          backup: Type.Boolean(),
          fails: Type.Integer({ minimum: 0 }),
          weight: Type.Integer({ minimum: 0, maximum: 1000 }),
          activeConns: Type.Integer({ minimum: 0 }),
        },
        { additionalProperties: false },
      ),
      { maxItems: MAX_REPORTED_UPSTREAMS },
    ),
  },
  { additionalProperties: false },
);
export type BalancerReport = Static<typeof BalancerReportSchema>;

export const HeartbeatFrame = Type.Object(
  {
    type: Type.Literal('heartbeat'),
    at: Type.Integer({ minimum: 0 }),
    queueDepth: Type.Optional(Type.Integer({ minimum: 0 })),
    outboxBacklog: Type.Optional(Type.Integer({ minimum: 0 })),
    rulesVersion: Type.Optional(Type.Integer({ minimum: 0 })),
    balancer: Type.Optional(BalancerReportSchema),
    routes: Type.Optional(Type.Array(RouteHealthSchema, { maxItems: MAX_REPORTED_ROUTES, description: 'Each route\'s last outcome on this scanner (protocol 4).' })),
    engines: Type.Optional(Type.Array(EngineHealthSchema, { maxItems: MAX_REPORTED_ENGINES, description: 'Each analyzer\'s engine: up or down, latency, last error (protocol 5).' })),
    metrics: Type.Optional(NodeMetricsSchema),
  },
  { additionalProperties: false },
);
export const ErrorFrame = Type.Object(
  { type: Type.Literal('error'), code: Type.String({ maxLength: 64 }), message: Type.String({ maxLength: 1000 }), id: Type.Optional(RequestId) },
  { additionalProperties: false },
);

// ── master → scanner ─────────────────────────────────────────────────────────
export const RulesPushFrame = Type.Object(
  { type: Type.Literal('rules.push'), version: Type.Integer({ minimum: 0 }), rules: Type.Unknown({ description: 'A rules document, validated by the scanner with validateRules.' }) },
  { additionalProperties: false },
);
export const EventsAckFrame = Type.Object({ type: Type.Literal('events.ack'), id: RequestId, upToSeq: Type.Integer({ minimum: 0 }) }, { additionalProperties: false });
export const QuarantineFetchFrame = Type.Object(
  { type: Type.Literal('quarantine.fetch'), id: RequestId, messageId: MessageId, window: Type.Integer({ minimum: 1, maximum: 64, description: 'Chunks the master will take before granting more credit.' }) },
  { additionalProperties: false },
);
export const StreamCreditFrame = Type.Object({ type: Type.Literal('stream.credit'), id: RequestId, chunks: Type.Integer({ minimum: 1, maximum: 64 }) }, { additionalProperties: false });
export const StreamCancelFrame = Type.Object({ type: Type.Literal('stream.cancel'), id: RequestId }, { additionalProperties: false });
export const QuarantineActionFrame = Type.Object(
  { type: Type.Union([Type.Literal('quarantine.release'), Type.Literal('quarantine.delete')]), id: RequestId, messageId: MessageId },
  { additionalProperties: false },
);
export const QueueListFrame = Type.Object({ type: Type.Literal('queue.list'), id: RequestId, limit: Type.Integer({ minimum: 1, maximum: 1000 }) }, { additionalProperties: false });
export const QueueActionFrame = Type.Object(
  { type: Type.Union([Type.Literal('queue.retry'), Type.Literal('queue.delete'), Type.Literal('queue.bounce')]), id: RequestId, queueId: MessageId },
  { additionalProperties: false },
);

// ── master → scanner: queue.inject (mail the master composes, e.g. quarantine digests) ──
/** Largest message the master may inject into a scanner's relay queue (well under MAX_FRAME_BYTES once base64). */
export const MAX_INJECT_BYTES = 1024 * 1024;
const InjectAddress = Type.String({ minLength: 3, maxLength: 320, pattern: '^[^\\s<>@]+@[^\\s<>@]+$' });
/**
 * A message the master composed, to be written durably into the scanner's relay queue like an
 * accepted message (no filtering: the master made it) and relayed downstream. The result's
 * `data` is `{ queueId }`.
 */
export const QueueInjectFrame = Type.Object(
  {
    type: Type.Literal('queue.inject'),
    id: RequestId,
    mailFrom: Type.Union([InjectAddress, Type.Literal('')], { description: 'Envelope sender; empty for the null sender.' }),
    rcptTo: Type.Array(InjectAddress, { minItems: 1, maxItems: 100 }),
    data: Type.String({ minLength: 1, maxLength: Math.ceil((MAX_INJECT_BYTES * 4) / 3) + 4, description: 'The whole message (RFC 5322, CRLF lines), base64.' }),
  },
  { additionalProperties: false },
);

// ── master → scanner: quarantine.release-rcpt (one recipient releases their copy) ──
/**
 * Release a held message to some of its recipients only (an end user releasing their own
 * copy): the scanner queues it for them and keeps it held for the others. The result's `data`
 * is `{ queueId }` (a new queue entry for this copy).
 */
export const QuarantineReleaseRcptFrame = Type.Object(
  { type: Type.Literal('quarantine.release-rcpt'), id: RequestId, messageId: MessageId, rcptTo: Type.Array(Type.String({ minLength: 1, maxLength: 320 }), { minItems: 1, maxItems: 100 }) },
  { additionalProperties: false },
);

// ── retention (issue 10), master → scanner ──────────────────────────────────
/** An envelope address as a recipient of a re-delivery (the master checks it against the accepted domains too). */
const Recipient = Type.String({ minLength: 3, maxLength: 320, pattern: '^[^\\s<>@]+@[^\\s<>@]+$' });
/** Stream a retained copy: answered with `quarantine.chunk` frames under the same credit flow as `quarantine.fetch`. */
export const RetainedFetchFrame = Type.Object(
  { type: Type.Literal('retained.fetch'), id: RequestId, messageId: MessageId, window: Type.Integer({ minimum: 1, maximum: 64, description: 'Chunks the master will take before granting more credit.' }) },
  { additionalProperties: false },
);
/** Queue a retained copy for delivery again; the `result` carries `{ queueId }` of the new queue entry. */
export const RetainedRedeliverFrame = Type.Object(
  {
    type: Type.Literal('retained.redeliver'),
    id: RequestId,
    messageId: MessageId,
    rcptTo: Type.Optional(Type.Array(Recipient, { minItems: 1, maxItems: 100, description: 'Absent: the original envelope recipients.' })),
  },
  { additionalProperties: false },
);
// ── end retention ───────────────────────────────────────────────────────────

// ── scanner → master ─────────────────────────────────────────────────────────
export const RulesAckFrame = Type.Object(
  { type: Type.Literal('rules.ack'), version: Type.Integer({ minimum: 0 }), ok: Type.Boolean(), error: Type.Optional(Type.String({ maxLength: 2000 })) },
  { additionalProperties: false },
);
export const EventsBatchFrame = Type.Object(
  { type: Type.Literal('events.batch'), id: RequestId, events: Type.Array(OutboxEventSchema, { minItems: 1, maxItems: 1000 }) },
  { additionalProperties: false },
);
export const QuarantineChunkFrame = Type.Object(
  {
    type: Type.Literal('quarantine.chunk'),
    id: RequestId,
    seq: Type.Integer({ minimum: 0 }),
    data: Type.String({ maxLength: Math.ceil((CHUNK_BYTES * 4) / 3) + 4, description: 'base64' }),
    last: Type.Boolean(),
  },
  { additionalProperties: false },
);
export const ResultFrame = Type.Object(
  {
    type: Type.Literal('result'),
    id: RequestId,
    ok: Type.Boolean(),
    code: Type.Optional(Type.String({ maxLength: 64 })),
    message: Type.Optional(Type.String({ maxLength: 1000 })),
    data: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: false },
);

// ── greylisting: scanner → master request, master → scanner answer ───────────
// The scanner asks with its own id (the master echoes it) and waits at most the rules'
// `greylisting.lookupTimeoutMs`; a master that cannot answer replies `error` with that id.
const Address = Type.String({ minLength: 1, maxLength: 320 });
export const GreylistCheckFrame = Type.Object(
  {
    type: Type.Literal('greylist.check'),
    id: RequestId,
    network: Type.String({ minLength: 1, maxLength: 64, pattern: '^[0-9a-f.:]+/[0-9]{1,3}$', description: 'The client network of the triplet (`192.0.2.0/24`).' }),
    sender: Address,
    recipient: Address,
    delaySeconds: Type.Integer({ minimum: 1, maximum: 86_400 }),
    expirySeconds: Type.Integer({ minimum: 2, maximum: 30 * 86_400 }),
    passSeconds: Type.Integer({ minimum: 1, maximum: 400 * 86_400 }),
  },
  { additionalProperties: false, description: 'Record an attempt of this triplet and say whether it passes, under the scanner\'s rules snapshot\'s times.' },
);
export const GreylistResultFrame = Type.Object(
  {
    type: Type.Literal('greylist.result'),
    id: RequestId,
    pass: Type.Boolean(),
    retryInSeconds: Type.Integer({ minimum: 0 }),
    firstSeen: Type.Integer({ minimum: 0 }),
    passedAt: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
    expiresAt: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false, description: 'The master\'s decision and the triplet\'s stored state (the scanner caches it).' },
);
export type GreylistCheck = Static<typeof GreylistCheckFrame>;
export type GreylistResult = Static<typeof GreylistResultFrame>;

export const ToScannerFrame = Type.Union([
  ChallengeFrame, WelcomeFrame, HeartbeatFrame, ErrorFrame, RulesPushFrame, EventsAckFrame,
  QuarantineFetchFrame, StreamCreditFrame, StreamCancelFrame, QuarantineActionFrame, QueueListFrame, QueueActionFrame,
  GreylistResultFrame,
  QueueInjectFrame,
  QuarantineReleaseRcptFrame,
  RetainedFetchFrame, RetainedRedeliverFrame,
  LearnEventFrame,
  VerifySourcesFrame, VerifyTestFrame, CalloutCachedFrame,
  MessageTestFrame,
  RecipientListsPushFrame,
]);
export const ToMasterFrame = Type.Union([
  HelloFrame, HeartbeatFrame, ErrorFrame, RulesAckFrame, EventsBatchFrame, QuarantineChunkFrame, ResultFrame,
  GreylistCheckFrame,
  LearnAckFrame,
  CalloutGetFrame, CalloutPutFrame,
  RecipientListsAckFrame,
]);

export type ToScanner = Static<typeof ToScannerFrame>;
export type ToMaster = Static<typeof ToMasterFrame>;
export type Hello = Static<typeof HelloFrame>;
export type Welcome = Static<typeof WelcomeFrame>;
export type EventsBatch = Static<typeof EventsBatchFrame>;
export type Result = Static<typeof ResultFrame>;
