import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { MasterSchema } from '../db/schema.ts';

/** A master sharing the database, as it registered itself (migration 20). */
export interface PeerRecord {
  readonly name: string;
  readonly url: string;
  /** SHA-256 fingerprint of its TLS certificate (`AB:CD:…`); '' without TLS. */
  readonly fingerprint: string;
  readonly seenAt: number;
}

/** Where the masters sharing one database find each other, and the secret they prove themselves with. */
export interface PeerRegistry {
  /** Write this master's row now (its first registration, or a refresh). */
  register(self: { readonly name: string; readonly url: string; readonly fingerprint: string }, now: number): Promise<void>;
  /** This master stops: the others stop forwarding to it at once instead of once its row is stale. */
  unregister(name: string): Promise<void>;
  get(name: string): Promise<PeerRecord | undefined>;
  /** The masters' shared secret: made by the first master that asks, the same for every later one. */
  secret(): Promise<string>;
}

export function createPeerRegistry(db: Kysely<MasterSchema>): PeerRegistry {
  return {
    async register(self, now) {
      await db
        .insertInto('masters')
        .values({ name: self.name, url: self.url, fingerprint: self.fingerprint, seen_at: now })
        .onConflict((oc) => oc.column('name').doUpdateSet({ url: self.url, fingerprint: self.fingerprint, seen_at: now }))
        .execute();
    },
    async unregister(name) {
      await db.deleteFrom('masters').where('name', '=', name).execute();
    },
    async get(name) {
      const row = await db.selectFrom('masters').selectAll().where('name', '=', name).executeTakeFirst();
      return row && { name: row.name, url: row.url, fingerprint: row.fingerprint, seenAt: row.seen_at };
    },
    async secret() {
      // Masters starting at once both try: the first insert wins, and both read the one stored.
      await db.insertInto('master_secret').values({ id: 1, secret: randomBytes(32).toString('base64url') }).onConflict((oc) => oc.column('id').doNothing()).execute();
      return (await db.selectFrom('master_secret').select('secret').where('id', '=', 1).executeTakeFirstOrThrow()).secret;
    },
  };
}

/** A registration not refreshed within this many refresh periods is a master that is gone. */
export const STALE_AFTER_REFRESHES = 3;

/** Is this registration recent enough to forward to? (pure) */
export function isFresh(peer: PeerRecord, now: number, refreshMs: number): boolean {
  return now - peer.seenAt <= refreshMs * STALE_AFTER_REFRESHES;
}
