import { randomBytes } from 'node:crypto';
import type { Db } from '@moat/storage';

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

interface Row {
  id: string;
  name: string;
  public_key: string;
  joined_at: number;
  address: string;
  smtp_address: string;
  software: string;
  rules_version: number;
  last_seen: number;
  online: number;
  queue_depth: number;
  outbox_backlog: number;
  removed_at: number | null;
}

const fromRow = (r: Row): NodeRecord => ({
  id: r.id, name: r.name, publicKey: r.public_key, joinedAt: r.joined_at, address: r.address, smtpAddress: r.smtp_address,
  software: r.software, rulesVersion: r.rules_version, lastSeen: r.last_seen, online: r.online === 1, queueDepth: r.queue_depth, outboxBacklog: r.outbox_backlog,
  removedAt: r.removed_at,
});

/**
 * Every scanner that ever joined, with its public key: a node signs the master's challenge with
 * its private key, which never leaves it, so nothing here lets anyone pass for a node
 * (`credential_hash` is an empty legacy column).
 */
export function createNodeRegistry(db: Db, onFlushError: (err: unknown) => void = () => undefined) {
  const byId = db.prepare<[string], Row>('SELECT * FROM nodes WHERE id = ?');
  const byName = db.prepare<[string], Row>('SELECT * FROM nodes WHERE name = ?');
  const all = db.prepare<[], Row>('SELECT * FROM nodes WHERE removed_at IS NULL ORDER BY name');
  const insert = db.prepare("INSERT INTO nodes (id, name, credential_hash, public_key, joined_at) VALUES (?, ?, '', ?, ?)");
  const rekey = db.prepare('UPDATE nodes SET public_key = ?, removed_at = NULL WHERE id = ?');
  const remove = db.prepare("UPDATE nodes SET removed_at = ?, public_key = '', online = 0 WHERE id = ? AND removed_at IS NULL");
  const connected = db.prepare('UPDATE nodes SET online = 1, last_seen = ?, address = ?, smtp_address = ?, software = ?, rules_version = ? WHERE id = ?');
  const heartbeat = db.prepare('UPDATE nodes SET last_seen = ?, queue_depth = coalesce(?, queue_depth), outbox_backlog = coalesce(?, outbox_backlog), rules_version = coalesce(?, rules_version) WHERE id = ?');
  const offline = db.prepare('UPDATE nodes SET online = 0 WHERE id = ?');
  const allOffline = db.prepare('UPDATE nodes SET online = 0');

  // Heartbeats and rules acks from every node arrive all the time; writing each in its own
  // transaction costs one fsync apiece on the master. They are gathered for a few milliseconds
  // and written together; every read flushes first, so nobody sees stale state.
  type Pending = { now: number; queueDepth?: number | undefined; outboxBacklog?: number | undefined; rulesVersion?: number | undefined };
  const pending = new Map<string, Pending>();
  let timer: NodeJS.Timeout | undefined;
  const flush = db.transaction(() => {
    clearTimeout(timer);
    timer = undefined;
    for (const [id, p] of pending) heartbeat.run(p.now, p.queueDepth ?? null, p.outboxBacklog ?? null, p.rulesVersion ?? null, id);
    pending.clear();
  });
  const defer = (id: string, update: Pending) => {
    const prev = pending.get(id);
    pending.set(id, {
      now: Math.max(update.now, prev?.now ?? 0),
      queueDepth: update.queueDepth ?? prev?.queueDepth,
      outboxBacklog: update.outboxBacklog ?? prev?.outboxBacklog,
      rulesVersion: update.rulesVersion ?? prev?.rulesVersion,
    });
    // From a timer, a failed write (the database locked past busy_timeout, the disk full) must
    // not escape: uncaught, it ended the master. The updates stay pending for the next flush.
    timer ??= setTimeout(() => {
      try {
        flush();
      } catch (err) {
        onFlushError(err);
      }
    }, 25);
  };
  const flushed = <T>(read: () => T): T => {
    if (pending.size > 0) flush();
    return read();
  };

  return {
    flush: () => void flush(),
    get: (id: string): NodeRecord | undefined => {
      if (pending.size > 0) flush();
      const r = byId.get(id);
      return r ? fromRow(r) : undefined;
    },
    byName: (name: string): NodeRecord | undefined => {
      const r = byName.get(name);
      return r ? fromRow(r) : undefined;
    },
    list: (): NodeRecord[] => flushed(() => all.all().map(fromRow)),
    /**
     * A join with a redeemed token: a new node, or a known name (removed, or re-keyed by an
     * admin's replace token) that keeps its id and takes the new public key.
     */
    join(name: string, publicKey: string, now: number): { id: string; rejoined: boolean } {
      const existing = byName.get(name);
      if (existing) {
        rekey.run(publicKey, existing.id);
        return { id: existing.id, rejoined: true };
      }
      const id = randomBytes(8).toString('hex');
      insert.run(id, name, publicKey, now);
      return { id, rejoined: false };
    },
    connected: (id: string, now: number, address: string, smtpAddress: string, software: string, rulesVersion: number) =>
      void connected.run(now, address, smtpAddress, software, rulesVersion, id),
    heartbeat: (id: string, now: number, queueDepth?: number, outboxBacklog?: number, rulesVersion?: number) =>
      defer(id, { now, queueDepth, outboxBacklog, rulesVersion }),
    offline: (id: string) => {
      if (pending.size > 0) flush();
      offline.run(id);
    },
    /**
     * Take a node out of the cluster: it leaves the node list, its public key is erased (a hello
     * signed with its key is refused; only a new join token brings the name back), its name stays on the log entries it wrote. False: unknown or already removed.
     */
    remove: (id: string, now: number): boolean => {
      if (pending.size > 0) flush();
      pending.delete(id);
      return remove.run(now, id).changes === 1;
    },
    /** At master start nobody is connected yet, whatever the last run recorded. */
    resetOnline: () => void allOffline.run(),
    rulesApplied: (id: string, version: number, now: number) => defer(id, { now, rulesVersion: version }),
  };
}
export type NodeRegistry = ReturnType<typeof createNodeRegistry>;
