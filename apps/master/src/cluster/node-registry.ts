import { randomBytes } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import type { MasterSchema } from '../db/schema.ts';
import type { NodesTable } from '../db/tables/cluster.ts';

export interface NodeRecord {
  readonly id: string;
  readonly name: string;
  /** The node's Ed25519 public key (base64url); '' once removed (or before it re-joined after the upgrade to keys). */
  readonly publicKey: string;
  readonly joinedAt: number;
  readonly address: string;
  readonly smtpAddress: string;
  readonly software: string;
  readonly rulesVersion: number;
  readonly lastSeen: number;
  readonly online: boolean;
  readonly queueDepth: number;
  readonly outboxBacklog: number;
  /** Set once an admin removed the node: it may not connect with its old credential. */
  readonly removedAt: number | null;
}

type Row = Omit<Selectable<NodesTable>, 'credential_hash' | 'last_acked_seq' | 'linked_to'>;
const COLUMNS = ['id', 'name', 'public_key', 'joined_at', 'address', 'smtp_address', 'software', 'rules_version', 'last_seen', 'online', 'queue_depth', 'outbox_backlog', 'removed_at'] as const;

const fromRow = (r: Row): NodeRecord => ({
  id: r.id, name: r.name, publicKey: r.public_key, joinedAt: r.joined_at, address: r.address, smtpAddress: r.smtp_address,
  software: r.software, rulesVersion: r.rules_version, lastSeen: r.last_seen, online: r.online === 1, queueDepth: r.queue_depth, outboxBacklog: r.outbox_backlog,
  removedAt: r.removed_at,
});

/**
 * A join with a redeemed token: a new node, or a known name (removed, or re-keyed by an admin's
 * replace token) that keeps its id and takes the new public key. One statement (an insert that
 * turns into an update of the name's row), so two joins of one name cannot make two nodes.
 * `db` may be the transaction the token was redeemed in.
 */
export async function joinNode(db: Kysely<MasterSchema>, name: string, publicKey: string, now: number): Promise<{ id: string; rejoined: boolean }> {
  const fresh = randomBytes(8).toString('hex');
  const row = await db
    .insertInto('nodes')
    .values({ id: fresh, name, credential_hash: '', public_key: publicKey, joined_at: now, removed_at: null })
    .onConflict((oc) => oc.column('name').doUpdateSet((eb) => ({ public_key: eb.ref('excluded.public_key'), removed_at: null })))
    .returning('id')
    .executeTakeFirstOrThrow();
  return { id: row.id, rejoined: row.id !== fresh };
}

type Pending = { now: number; queueDepth?: number | undefined; outboxBacklog?: number | undefined; rulesVersion?: number | undefined };
/** A later update over an earlier one: each field the later one has, the latest time. */
const merge = (prev: Pending | undefined, update: Pending): Pending => ({
  now: Math.max(update.now, prev?.now ?? 0),
  queueDepth: update.queueDepth ?? prev?.queueDepth,
  outboxBacklog: update.outboxBacklog ?? prev?.outboxBacklog,
  rulesVersion: update.rulesVersion ?? prev?.rulesVersion,
});

export interface NodeRegistry {
  /** Write the gathered heartbeats now (and wait for every write asked before). */
  flush(): Promise<void>;
  get(id: string): Promise<NodeRecord | undefined>;
  byName(name: string): Promise<NodeRecord | undefined>;
  /** The nodes in the cluster (not removed), by name. */
  list(): Promise<NodeRecord[]>;
  join(name: string, publicKey: string, now: number): Promise<{ id: string; rejoined: boolean }>;
  connected(id: string, now: number, address: string, smtpAddress: string, software: string, rulesVersion: number): Promise<void>;
  /** Gathered and written a few milliseconds later with the others (see createNodeRegistry). */
  heartbeat(id: string, now: number, queueDepth?: number, outboxBacklog?: number, rulesVersion?: number): void;
  /** The link this master held ended: offline, unless the node is linked to another master by now. */
  offline(id: string): Promise<void>;
  /**
   * Take a node out of the cluster: it leaves the node list, its public key is erased (a hello
   * signed with its key is refused; only a new join token brings the name back), its name stays on the log entries it wrote. False: unknown or already removed.
   */
  remove(id: string, now: number): Promise<boolean>;
  /**
   * At master start nobody is connected to it yet, whatever the last run recorded: `all` for
   * the one master of a SQLite database; `mine` with several masters on one database (the nodes
   * linked to this master or to none; those the others serve stay as they are).
   */
  resetOnline(scope: 'all' | 'mine'): Promise<void>;
  rulesApplied(id: string, version: number, now: number): void;
}

/**
 * Every scanner that ever joined, with its public key: a node signs the master's challenge with
 * its private key, which never leaves it, so nothing here lets anyone pass for a node
 * (`credential_hash` is an empty legacy column).
 *
 * Its writes run one after another, in the order they were asked (a node's `connected` is never
 * overtaken by an earlier `offline` of the same node, on either engine), and every read waits
 * for the writes asked before it, so nobody sees stale state.
 */
export function createNodeRegistry(db: Kysely<MasterSchema>, onFlushError: (err: unknown) => void = () => undefined, master = ''): NodeRegistry {
  let tail: Promise<unknown> = Promise.resolve();
  const serial = <T>(op: () => Promise<T>): Promise<T> => {
    const run = tail.then(op);
    tail = run.catch(() => undefined);
    return run;
  };

  // Heartbeats and rules acks from every node arrive all the time; writing each in its own
  // transaction costs one fsync apiece on the master. They are gathered for a few milliseconds
  // and written together.
  const pending = new Map<string, Pending>();
  let timer: NodeJS.Timeout | undefined;
  const writePending = async () => {
    if (pending.size === 0) return;
    const batch = new Map(pending);
    pending.clear();
    try {
      await db.transaction().execute(async (trx) => {
        for (const [id, p] of batch) {
          await trx
            .updateTable('nodes')
            .set((eb) => ({
              last_seen: p.now,
              queue_depth: p.queueDepth ?? eb.ref('queue_depth'),
              outbox_backlog: p.outboxBacklog ?? eb.ref('outbox_backlog'),
              rules_version: p.rulesVersion ?? eb.ref('rules_version'),
            }))
            .where('id', '=', id)
            .execute();
        }
      });
    } catch (err) {
      // Kept for the next flush, under whatever arrived meanwhile.
      for (const [id, p] of batch) pending.set(id, merge(p, pending.get(id) ?? p));
      throw err;
    }
  };
  const flush = (): Promise<void> => {
    clearTimeout(timer);
    timer = undefined;
    return serial(writePending);
  };
  const defer = (id: string, update: Pending) => {
    pending.set(id, merge(pending.get(id), update));
    // From a timer, a failed write (the database locked past busy_timeout, the disk full) must
    // not escape: uncaught, it ended the master. The updates stay pending for the next flush.
    timer ??= setTimeout(() => void flush().catch(onFlushError), 25);
  };
  const read = async <T>(query: () => Promise<T>): Promise<T> => {
    await flush();
    return query();
  };
  const one = async (where: 'id' | 'name', value: string) => {
    const r = await db.selectFrom('nodes').select(COLUMNS).where(where, '=', value).executeTakeFirst();
    return r ? fromRow(r) : undefined;
  };

  return {
    flush,
    get: (id) => read(() => one('id', id)),
    byName: (name) => read(() => one('name', name)),
    list: () => read(async () => (await db.selectFrom('nodes').select(COLUMNS).where('removed_at', 'is', null).orderBy('name').execute()).map(fromRow)),
    join: (name, publicKey, now) => serial(() => joinNode(db, name, publicKey, now)),
    connected: (id, now, address, smtpAddress, software, rulesVersion) =>
      serial(async () => {
        await db.updateTable('nodes').set({ online: 1, linked_to: master, last_seen: now, address, smtp_address: smtpAddress, software, rules_version: rulesVersion }).where('id', '=', id).execute();
      }),
    heartbeat: (id, now, queueDepth, outboxBacklog, rulesVersion) => defer(id, { now, queueDepth, outboxBacklog, rulesVersion }),
    offline: (id) =>
      serial(async () => {
        await db.updateTable('nodes').set({ online: 0 }).where('id', '=', id).where('linked_to', '=', master).execute();
      }),
    remove: (id, now) =>
      serial(async () => {
        pending.delete(id);
        const r = await db.updateTable('nodes').set({ removed_at: now, public_key: '', online: 0 }).where('id', '=', id).where('removed_at', 'is', null).executeTakeFirst();
        return Number(r.numUpdatedRows) === 1;
      }),
    resetOnline: (scope) =>
      serial(async () => {
        let q = db.updateTable('nodes').set({ online: 0 });
        if (scope === 'mine') q = q.where('linked_to', 'in', [master, '']);
        await q.execute();
      }),
    rulesApplied: (id, version, now) => defer(id, { now, rulesVersion: version }),
  };
}
