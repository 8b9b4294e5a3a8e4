import { PassThrough, type Readable } from 'node:stream';
import type { Kysely } from 'kysely';
import type { MasterSchema } from '../db/schema.ts';
import { NodeOfflineError, NodeRequestError } from '../app-deps.ts';
import { isFresh, STALE_AFTER_REFRESHES, type PeerRecord, type PeerRegistry } from './peer-registry.ts';
import { PeerUnreachableError, postToPeer, readJson } from './peer-client.ts';
import { errorFromPeer, type PeerFrame, type PeerRequest, type ProtocolNeed } from './peer-wire.ts';

/** A node result is small; a message.test answer is the largest (a verdict with its reasons). */
const MAX_RESULT_BYTES = 8 * 1024 * 1024;

export interface PeerForwarderDeps {
  readonly db: Kysely<MasterSchema>;
  readonly peers: PeerRegistry;
  /** This master's name: a node linked here is never forwarded (it is offline if its link is not here). */
  readonly self: string;
  /** The masters' shared secret (read once at start). */
  readonly secret: string;
  readonly now: () => number;
  /** How often masters refresh their registration (a row older than 3 of these is a master gone). */
  readonly refreshMs: number;
  /** The hub's request budget: the whole forward (until the answer, or a stream's first bytes) must fit it. */
  readonly timeoutMs: number;
}

/**
 * Requests for a node whose link another master holds (several masters on one PostgreSQL):
 * sent to that master's /cluster/peer, which performs them on its link and answers with the
 * result, or streams the message. A node that is offline, linked here, or linked to a master
 * that is gone (no fresh registration) is offline, as it would be with one master.
 */
export function createPeerForwarder(deps: PeerForwarderDeps) {
  /** The master holding the node's link, or the offline error to throw. */
  async function holder(nodeId: string): Promise<{ node: string; peer: PeerRecord }> {
    const row = await deps.db.selectFrom('nodes').select(['name', 'online', 'linked_to']).where('id', '=', nodeId).where('removed_at', 'is', null).executeTakeFirst();
    if (!row || row.online !== 1 || row.linked_to === '' || row.linked_to === deps.self) throw new NodeOfflineError(row?.name ?? nodeId);
    const peer = await deps.peers.get(row.linked_to);
    if (!peer || !isFresh(peer, deps.now(), deps.refreshMs)) throw new NodeOfflineError(row.name);
    return { node: row.name, peer };
  }

  /** POST the request under the time budget; `done` ends the budget (the answer read, or a stream's headers). */
  async function post(nodeId: string, body: PeerRequest) {
    const { node, peer } = await holder(nodeId);
    const budget = new AbortController();
    const timer = setTimeout(() => budget.abort(), deps.timeoutMs);
    const done = () => clearTimeout(timer);
    try {
      const res = await postToPeer(peer, JSON.stringify(body), { secret: deps.secret, from: deps.self }, budget.signal);
      return { node, peer, res, done, budget };
    } catch (err) {
      done();
      throw failed(err, node, peer, budget.signal);
    }
  }

  return {
    /** The nodes online on the other masters that are alive (registration fresh): where a relayed message can go when none is linked here. */
    async reachableNodeIds(): Promise<string[]> {
      const freshSince = deps.now() - deps.refreshMs * STALE_AFTER_REFRESHES;
      const rows = await deps.db
        .selectFrom('nodes')
        .innerJoin('masters', 'masters.name', 'nodes.linked_to')
        .select('nodes.id')
        .where('nodes.online', '=', 1)
        .where('nodes.removed_at', 'is', null)
        .where('nodes.linked_to', '!=', deps.self)
        .where('masters.seen_at', '>=', freshSince)
        .orderBy('nodes.id')
        .execute();
      return rows.map((r) => r.id);
    },

    async request<T>(nodeId: string, frame: PeerFrame, need?: ProtocolNeed): Promise<T> {
      const { node, peer, res, done, budget } = await post(nodeId, { nodeId, frame, ...(need ? { need } : {}) });
      try {
        const body = await readJson(res, MAX_RESULT_BYTES);
        if (res.statusCode !== 200) throw errorFromPeer(res.statusCode ?? 0, body, node, peer.name);
        return (body as { data?: T } | undefined)?.data as T;
      } catch (err) {
        throw failed(err, node, peer, budget.signal);
      } finally {
        done();
      }
    },

    async fetchStream(nodeId: string, frame: PeerFrame): Promise<Readable> {
      const { node, peer, res, done, budget } = await post(nodeId, { nodeId, frame });
      done();
      if (res.statusCode !== 200) throw failed(errorFromPeer(res.statusCode ?? 0, await readJson(res, MAX_RESULT_BYTES).catch(() => undefined), node, peer.name), node, peer, budget.signal);
      // The bytes as they come (not buffered whole); a stream the peer breaks off fails like a link that drops mid-stream.
      const out = new PassThrough();
      res.on('error', () => undefined); // reported by 'close' below
      res.on('close', () => { if (!res.complete) out.destroy(new NodeRequestError(node, 'MOAT_ERR_NODE', `the message from node ${node} broke off on its way through master ${peer.name}`)); });
      out.on('close', () => { if (!res.complete) res.destroy(); });
      res.pipe(out);
      return out;
    },
  };
}

export type PeerForwarder = ReturnType<typeof createPeerForwarder>;

/** A failure of the forward itself as the error a local request would throw. */
function failed(err: unknown, node: string, peer: PeerRecord, signal: AbortSignal): unknown {
  if (err instanceof NodeOfflineError || err instanceof NodeRequestError) return err;
  if (signal.aborted) return new NodeRequestError(node, 'MOAT_ERR_NODE_TIMEOUT', `node ${node} did not answer in time (through master ${peer.name})`);
  if (err instanceof PeerUnreachableError) return new NodeRequestError(node, 'MOAT_ERR_PEER', `master ${peer.name}, which holds the node's link, could not be asked: ${err.message}`);
  return err;
}
