import { Type, type Static } from 'typebox';
import {
  MessageTestFrame, QuarantineActionFrame, QuarantineFetchFrame, QuarantineReleaseRcptFrame, QueueActionFrame, QueueInjectFrame, QueueListFrame,
  RetainedFetchFrame, RetainedRedeliverFrame, VerifyTestFrame, MAX_FRAME_BYTES, validator, type ToScanner,
} from '@moat/protocol';
import { NodeOfflineError, NodeRequestError } from '../app-deps.ts';

/**
 * What masters say to each other when one forwards a request for a node to the master that
 * holds the node's link (docs/cluster.md, "Several masters"): one HTTP route, `POST
 * /cluster/peer`, authenticated by the secret the masters share through the database.
 */
export const PEER_PATH = '/cluster/peer';
/** The header carrying the peer secret (never logged: the request log writes the route, not headers). */
export const PEER_SECRET_HEADER = 'x-moat-peer-secret';
/** The forwarding master's name, for the receiver's log. */
export const PEER_FROM_HEADER = 'x-moat-peer-from';
/** A request body holds at most one link frame (a message.test carries a whole message), plus its envelope. */
export const PEER_BODY_LIMIT = MAX_FRAME_BYTES + 64 * 1024;

/** The link frames another master may have performed here: requests for one node, never pushes. */
const PeerFrames = Type.Union([
  QuarantineFetchFrame, RetainedFetchFrame, QuarantineActionFrame, QuarantineReleaseRcptFrame, RetainedRedeliverFrame,
  QueueListFrame, QueueActionFrame, QueueInjectFrame, VerifyTestFrame, MessageTestFrame,
]);
const validPeerFrame = validator(PeerFrames);
/** The frames answered by a stream of chunks (the rest by one `result`). */
const STREAMED = new Set(['quarantine.fetch', 'retained.fetch']);

/** "The node must speak at least this protocol version", checked by the master that holds its link. */
export const ProtocolNeedSchema = Type.Object(
  {
    version: Type.Integer({ minimum: 1, description: 'The lowest protocol version the request needs.' }),
    what: Type.String({ minLength: 1, maxLength: 200, description: 'What the request does, for the error: "upgrade it to …".' }),
  },
  { additionalProperties: false },
);
export type ProtocolNeed = Static<typeof ProtocolNeedSchema>;

export const PeerRequestSchema = Type.Object(
  {
    nodeId: Type.String({ minLength: 1, maxLength: 64, description: 'The node the frame is for; it must be linked to the receiving master.' }),
    frame: Type.Object({ type: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: true, description: 'The link frame without its id (the receiving master gives it one of its own link).' }),
    need: Type.Optional(ProtocolNeedSchema),
  },
  { additionalProperties: false },
);
export type PeerRequest = Static<typeof PeerRequestSchema>;

/** A frame without its request id, as it travels between masters. */
export type PeerFrame = { readonly type: string } & Record<string, unknown>;

/** The frame a builder makes, without its id. */
export function withoutId(frame: (id: string) => ToScanner): PeerFrame {
  const { id: _id, ...rest } = frame('peer') as ToScanner & { id?: string };
  return rest;
}

/**
 * A forwarded frame checked against the link's own schemas (only requests for one node), as a
 * builder for the receiving master's link; `undefined` when it is not such a frame.
 */
export function peerFrame(frame: PeerFrame): { streamed: boolean; build: (id: string) => ToScanner } | undefined {
  const build = (id: string) => ({ ...frame, id }) as unknown as ToScanner;
  if (!validPeerFrame(build('peer'))) return undefined;
  return { streamed: STREAMED.has(frame.type), build };
}

/** The answer to a forwarded request: `data` of the node's result. */
export interface PeerResult {
  readonly data?: unknown;
}

/** A node's error as the receiving master answers it, so the forwarding master throws the same one. */
export interface PeerErrorBody {
  readonly error: string;
  readonly code: string;
  readonly details: { readonly node: string; readonly offline: boolean };
}

export function peerErrorBody(err: NodeOfflineError | NodeRequestError): PeerErrorBody {
  return { error: err.message, code: err.code, details: { node: err.nodeName, offline: err instanceof NodeOfflineError } };
}

/**
 * The error to throw for a peer's answer that is not a success: the node's own error when the
 * peer says so (offline, refused, timed out), else MOAT_ERR_PEER (a 502: the peer itself failed
 * or refused us, e.g. a wrong secret).
 */
export function errorFromPeer(status: number, body: unknown, nodeName: string, peerName: string): NodeOfflineError | NodeRequestError {
  const b = (typeof body === 'object' && body !== null ? body : {}) as { error?: unknown; code?: unknown; details?: { node?: unknown; offline?: unknown } };
  const node = typeof b.details?.node === 'string' ? b.details.node : undefined;
  if (node !== undefined && typeof b.code === 'string' && b.code.startsWith('MOAT_ERR_') && typeof b.error === 'string') {
    return b.details?.offline === true ? new NodeOfflineError(node) : new NodeRequestError(node, b.code, b.error);
  }
  const code = typeof b.code === 'string' ? ` (${b.code.slice(0, 64)})` : '';
  return new NodeRequestError(nodeName, 'MOAT_ERR_PEER', `master ${peerName}, which holds the node's link, answered ${status}${code}`);
}
