import { createHash } from 'node:crypto';
import type { Db } from '@moat/storage';
import type { CalloutResult, VerificationSource, VerifySources } from '@moat/protocol';

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
  list(): StoredSource[];
  get(name: string): StoredSource | undefined;
  put(name: string, source: VerificationSource, by: string, now: number): void;
  remove(name: string): boolean;
  /** The whole store as one frame's content. */
  frame(): Omit<VerifySources, 'type'>;
}

/** `bindPassword` becomes `[redacted]` (or stays empty when none is set). */
export function redact(source: VerificationSource): RedactedSource {
  if (source.kind === 'static') return source;
  return { ...source, bindPassword: source.bindPassword === '' ? '' : '[redacted]' };
}

interface Row {
  name: string;
  kind: string;
  settings: string;
  updated_at: number;
  updated_by: string;
}

export function createVerificationStore(db: Db): VerificationStore {
  const all = db.prepare<[], Row>('SELECT name, kind, settings, updated_at, updated_by FROM verification_sources ORDER BY name');
  const one = db.prepare<[string], Row>('SELECT name, kind, settings, updated_at, updated_by FROM verification_sources WHERE name = ?');
  const upsert = db.prepare(`INSERT INTO verification_sources (name, kind, settings, updated_at, updated_by) VALUES (@name, @kind, @settings, @at, @by)
    ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, settings = excluded.settings, updated_at = excluded.updated_at, updated_by = excluded.updated_by`);
  const del = db.prepare<[string]>('DELETE FROM verification_sources WHERE name = ?');
  const toStored = (r: Row): StoredSource => ({ name: r.name, source: JSON.parse(r.settings) as VerificationSource, updatedAt: r.updated_at, updatedBy: r.updated_by });
  const list = () => all.all().map(toStored);
  return {
    list,
    get: (name) => {
      const r = one.get(name);
      return r ? toStored(r) : undefined;
    },
    put: (name, source, by, at) => void upsert.run({ name, kind: source.kind, settings: JSON.stringify(source), at, by }),
    remove: (name) => del.run(name).changes > 0,
    frame() {
      const sources = Object.fromEntries(list().map((s) => [s.name, s.source]));
      return { digest: createHash('sha256').update(JSON.stringify(sources)).digest('hex'), sources };
    },
  };
}

/** The cluster's call-out cache: one row per address (or `*@domain` for an accept-all server). */
export interface CalloutCacheStore {
  get(address: string, now: number): { result: CalloutResult; expiresAt: number } | undefined;
  put(address: string, result: CalloutResult, expiresAt: number): void;
  sweep(now: number): number;
}

export function createCalloutCacheStore(db: Db): CalloutCacheStore {
  const get = db.prepare<[string, number], { result: CalloutResult; expires_at: number }>('SELECT result, expires_at FROM callout_cache WHERE address = ? AND expires_at > ?');
  const put = db.prepare<[string, string, number]>(`INSERT INTO callout_cache (address, result, expires_at) VALUES (?, ?, ?)
    ON CONFLICT (address) DO UPDATE SET result = excluded.result, expires_at = excluded.expires_at`);
  const sweep = db.prepare<[number]>('DELETE FROM callout_cache WHERE expires_at <= ?');
  return {
    get(address, now) {
      const domainKey = `*@${address.slice(address.lastIndexOf('@') + 1)}`;
      for (const key of [address, domainKey]) {
        const r = get.get(key, now);
        if (r) return { result: r.result, expiresAt: r.expires_at };
      }
      return undefined;
    },
    put: (address, result, expiresAt) => void put.run(address, result, expiresAt),
    sweep: (now) => sweep.run(now).changes,
  };
}
