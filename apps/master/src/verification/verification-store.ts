import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { CalloutResult, VerificationSource, VerifySources } from '@moat/protocol';
import type { MasterSchema } from '../db/schema.ts';

/** What the API shows of a source: never the bind password, only whether one is set. */
export type RedactedSource = VerificationSource;

export interface StoredSource {
  readonly name: string;
  readonly source: VerificationSource;
  readonly updatedAt: number;
  readonly updatedBy: string;
}

/**
 * The master's verification store (migration 16): static recipient lists and directories, by
 * name, which the rules' `recipientVerification.domains[].store` names. Sent whole to every
 * scanner (`verify.sources`); the API and the audit log see it redacted.
 */
export interface VerificationStore {
  list(): Promise<StoredSource[]>;
  get(name: string): Promise<StoredSource | undefined>;
  put(name: string, source: VerificationSource, by: string, now: number): Promise<void>;
  remove(name: string): Promise<boolean>;
  /** The whole store as one frame's content. */
  frame(): Promise<Omit<VerifySources, 'type'>>;
}

/** `bindPassword` becomes `[redacted]` (or stays empty when none is set). */
export function redact(source: VerificationSource): RedactedSource {
  if (source.kind === 'static') return source;
  return { ...source, bindPassword: source.bindPassword === '' ? '' : '[redacted]' };
}

const COLUMNS = ['name', 'settings', 'updated_at', 'updated_by'] as const;
type Row = { name: string; settings: string; updated_at: number; updated_by: string };

export function createVerificationStore(db: Kysely<MasterSchema>): VerificationStore {
  const toStored = (r: Row): StoredSource => ({ name: r.name, source: JSON.parse(r.settings) as VerificationSource, updatedAt: r.updated_at, updatedBy: r.updated_by });
  const list = async () => (await db.selectFrom('verification_sources').select(COLUMNS).orderBy('name').execute()).map(toStored);
  return {
    list,
    async get(name) {
      const r = await db.selectFrom('verification_sources').select(COLUMNS).where('name', '=', name).executeTakeFirst();
      return r ? toStored(r) : undefined;
    },
    async put(name, source, by, at) {
      await db
        .insertInto('verification_sources')
        .values({ name, kind: source.kind, settings: JSON.stringify(source), updated_at: at, updated_by: by })
        .onConflict((oc) => oc.column('name').doUpdateSet((eb) => ({ kind: eb.ref('excluded.kind'), settings: eb.ref('excluded.settings'), updated_at: eb.ref('excluded.updated_at'), updated_by: eb.ref('excluded.updated_by') })))
        .execute();
    },
    async remove(name) {
      return Number((await db.deleteFrom('verification_sources').where('name', '=', name).executeTakeFirst()).numDeletedRows) > 0;
    },
    async frame() {
      const sources = Object.fromEntries((await list()).map((s) => [s.name, s.source]));
      return { digest: createHash('sha256').update(JSON.stringify(sources)).digest('hex'), sources };
    },
  };
}

/** The cluster's call-out cache: one row per address (or `*@domain` for an accept-all server). */
export interface CalloutCacheStore {
  get(address: string, now: number): Promise<{ result: CalloutResult; expiresAt: number } | undefined>;
  put(address: string, result: CalloutResult, expiresAt: number): Promise<void>;
  sweep(now: number): Promise<number>;
}

export function createCalloutCacheStore(db: Kysely<MasterSchema>): CalloutCacheStore {
  return {
    async get(address, now) {
      const domainKey = `*@${address.slice(address.lastIndexOf('@') + 1)}`;
      for (const key of [address, domainKey]) {
        const r = await db.selectFrom('callout_cache').select(['result', 'expires_at']).where('address', '=', key).where('expires_at', '>', now).executeTakeFirst();
        if (r) return { result: r.result, expiresAt: r.expires_at };
      }
      return undefined;
    },
    async put(address, result, expiresAt) {
      await db
        .insertInto('callout_cache')
        .values({ address, result, expires_at: expiresAt })
        .onConflict((oc) => oc.column('address').doUpdateSet((eb) => ({ result: eb.ref('excluded.result'), expires_at: eb.ref('excluded.expires_at') })))
        .execute();
    },
    sweep: async (now) => Number((await db.deleteFrom('callout_cache').where('expires_at', '<=', now).executeTakeFirst()).numDeletedRows),
  };
}
