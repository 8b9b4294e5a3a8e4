import { randomBytes } from 'node:crypto';
import { ConfigError, validateDocument, type FieldError } from '@moat/config';
import type { Kysely } from 'kysely';
import type { MasterSchema } from '../db/schema.ts';
import { DigestSettingsSchema, type DigestSettings } from './settings-schema.ts';
import { templateProblem } from './template.ts';

/**
 * The one gate a settings document passes: the schema with its defaults, then the templates'
 * placeholders. Throws ConfigError naming every bad key (`templates.html`).
 */
export function validateDigestSettings(input: unknown): DigestSettings {
  const settings = validateDocument(DigestSettingsSchema, input, 'digest settings');
  const errors: FieldError[] = [];
  const { templates } = settings;
  for (const [key, text, section] of [['subject', templates.subject, false], ['text', templates.text, true], ['html', templates.html, true]] as const) {
    const problem = templateProblem(text, section);
    if (problem !== undefined) errors.push({ key: `templates.${key}`, message: problem });
  }
  for (const domain of Object.keys(settings.senders)) {
    if (!domain.includes('.')) errors.push({ key: `senders.${domain}`, message: 'must be a domain name' });
  }
  if (errors.length > 0) throw new ConfigError('digest settings', errors);
  return settings;
}

export interface StoredDigestSettings {
  readonly settings: DigestSettings;
  readonly updatedAt: number | null;
  readonly updatedBy: string | null;
}

export interface DigestStore {
  /** The stored settings, or the defaults before an admin saved any. */
  settings(): Promise<StoredDigestSettings>;
  save(settings: DigestSettings, by: string, at: number): Promise<void>;
  /** The HMAC key of the links: 32 random bytes, made once and kept (a new one would void every link sent). */
  secret(): Promise<Buffer>;
  lastRunAt(): Promise<number | null>;
  setLastRunAt(at: number): Promise<void>;
}

/**
 * The settings document (one row) and the digests' state (one row: the links' secret, the last
 * complete round). Each write is one statement, an upsert on the row's key: two masters making
 * the secret at once keep the first one's (`ON CONFLICT DO NOTHING`, then read).
 */
export function createDigestStore(db: Kysely<MasterSchema>): DigestStore {
  const defaults = validateDigestSettings({});

  const state = async () => {
    await db.insertInto('digest_state').values({ id: 1, secret: randomBytes(32).toString('hex'), last_run_at: null }).onConflict((oc) => oc.column('id').doNothing()).execute();
    return db.selectFrom('digest_state').select(['secret', 'last_run_at']).where('id', '=', 1).executeTakeFirstOrThrow();
  };

  return {
    async settings() {
      const row = await db.selectFrom('digest_settings').select(['document', 'updated_at', 'updated_by']).where('id', '=', 1).executeTakeFirst();
      if (!row) return { settings: defaults, updatedAt: null, updatedBy: null };
      // Stored documents passed validation; defaults added by a later release fill in here.
      return { settings: validateDigestSettings(JSON.parse(row.document)), updatedAt: row.updated_at, updatedBy: row.updated_by };
    },
    async save(settings, by, at) {
      await db.insertInto('digest_settings').values({ id: 1, document: JSON.stringify(settings), updated_at: at, updated_by: by })
        .onConflict((oc) => oc.column('id').doUpdateSet((eb) => ({ document: eb.ref('excluded.document'), updated_at: eb.ref('excluded.updated_at'), updated_by: eb.ref('excluded.updated_by') })))
        .execute();
    },
    secret: async () => Buffer.from((await state()).secret, 'hex'),
    lastRunAt: async () => (await state()).last_run_at,
    async setLastRunAt(at) {
      await db.insertInto('digest_state').values({ id: 1, secret: randomBytes(32).toString('hex'), last_run_at: at })
        .onConflict((oc) => oc.column('id').doUpdateSet((eb) => ({ last_run_at: eb.ref('excluded.last_run_at') })))
        .execute();
    },
  };
}
