import { createHmac } from 'node:crypto';
import { Type, type Static } from 'typebox';
import { decoder } from './codec.ts';
import { ChallengeFrame, ErrorFrame } from './frames.ts';

/**
 * The master ⇄ master replication link (docs/masters.md), at `/cluster/replication` on the
 * active master's HTTP port: the scanner link's handshake (a `challenge` nonce, a hello proved
 * by HMAC under the cluster join secret with its own label, so a scanner's proof is never a
 * standby's), then the active master streams its replication log in order and the standby
 * acknowledges what it has committed. Its own frame set: the scanner link's unions are untouched.
 */
const Seq = Type.Integer({ minimum: 0 });
const Epoch = Type.Integer({ minimum: 0 });
const Name = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._-]+$' });
const Point = Type.Object({ seq: Seq, epoch: Epoch, at: Type.Integer({ minimum: 0 }) }, { additionalProperties: false });

export const ReplHelloFrame = Type.Object(
  {
    type: Type.Literal('repl.hello'),
    protocol: Type.Integer({ minimum: 1 }),
    name: Name,
    proof: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    epoch: Type.Integer({ minimum: 0, description: 'The highest epoch the standby has seen: an active master below it is stale and steps down.' }),
    seq: Type.Integer({ minimum: 0, description: 'Last change applied.' }),
    seqEpoch: Type.Integer({ minimum: 0, description: 'The epoch of that change (log matching).' }),
    seqAt: Type.Integer({ minimum: 0, description: 'The active master\'s time of that change: two masters that took the same epoch in a partition still differ here.' }),
    recent: Type.Array(Point, { maxItems: 1024, description: 'The places of the standby\'s last log entries, newest first: when its position does not match, the newest that does is where it rolls back to (instead of a full copy).' }),
  },
  { additionalProperties: false },
);
export const ReplAckFrame = Type.Object({ type: Type.Literal('repl.ack'), seq: Seq }, { additionalProperties: false });
export const ReplHeartbeatFrame = Type.Object(
  { type: Type.Literal('repl.heartbeat'), at: Type.Integer({ minimum: 0 }), head: Type.Optional(Point) },
  { additionalProperties: false, description: 'Both ways; the active master\'s carries its log head (the standby\'s lag is measured against it).' },
);
export const ReplWelcomeFrame = Type.Object(
  {
    type: Type.Literal('repl.welcome'),
    name: Name,
    epoch: Epoch,
    head: Point,
    snapshot: Type.Boolean({ description: 'A full copy follows (repl.snapshot … repl.snapshot.end) before the changes.' }),
    /** The standby undoes its log entries after this place (changes made on it that the active master never got); the changes follow from there. */
    rollbackTo: Type.Optional(Point),
    heartbeatMs: Type.Integer({ minimum: 100 }),
  },
  { additionalProperties: false },
);
export const ReplSnapshotFrame = Type.Object(
  { type: Type.Literal('repl.snapshot'), table: Type.String({ minLength: 1, maxLength: 128 }), rows: Type.Array(Type.Record(Type.String(), Type.Unknown()), { maxItems: 5000 }) },
  { additionalProperties: false },
);
export const ReplSnapshotEndFrame = Type.Object({ type: Type.Literal('repl.snapshot.end'), point: Point }, { additionalProperties: false });
export const ChangeSchema = Type.Object(
  {
    seq: Type.Integer({ minimum: 1 }),
    epoch: Epoch,
    at: Type.Integer({ minimum: 0 }),
    tbl: Type.String({ maxLength: 128 }),
    op: Type.Union([Type.Literal('upsert'), Type.Literal('delete'), Type.Literal('mark')]),
    old: Type.Union([Type.String(), Type.Null()], { description: 'The whole old row (updates, deletes), JSON.' }),
    row: Type.Union([Type.String(), Type.Null()]),
  },
  { additionalProperties: false },
);
export const ReplChangesFrame = Type.Object(
  { type: Type.Literal('repl.changes'), changes: Type.Array(ChangeSchema, { minItems: 1, maxItems: 5000 }), head: Point },
  { additionalProperties: false },
);

export const ToActiveFrame = Type.Union([ReplHelloFrame, ReplAckFrame, ReplHeartbeatFrame, ErrorFrame]);
export const ToStandbyFrame = Type.Union([ChallengeFrame, ReplWelcomeFrame, ReplSnapshotFrame, ReplSnapshotEndFrame, ReplChangesFrame, ReplHeartbeatFrame, ErrorFrame]);
export type ToActive = Static<typeof ToActiveFrame>;
export type ToStandby = Static<typeof ToStandbyFrame>;
export type ReplChange = Static<typeof ChangeSchema>;
export type ReplPoint = Static<typeof Point>;

export const decodeToActive: (raw: Buffer | string) => ToActive = decoder(ToActiveFrame);
export const decodeToStandby: (raw: Buffer | string) => ToStandby = decoder(ToStandbyFrame);
export function encodeReplFrame(frame: ToActive | ToStandby): string {
  return JSON.stringify(frame);
}

/** The standby's proof: HMAC-SHA256(joinSecret, "moat-standby:v1:" + name + ":" + nonce). */
export function standbyProof(key: string, name: string, nonce: string): string {
  return createHmac('sha256', key).update(`moat-standby:v1:${name}:${nonce}`).digest('hex');
}
