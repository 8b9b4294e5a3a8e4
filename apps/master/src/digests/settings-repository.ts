import { randomBytes } from 'node:crypto';
import { ConfigError, validateDocument, type FieldError } from '@moat/config';
import type { Db } from '@moat/storage';
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
  settings(): StoredDigestSettings;
  save(settings: DigestSettings, by: string, at: number): void;
  /** The HMAC key of the links: 32 random bytes, made once and kept (a new one would void every link sent). */
  secret(): Buffer;
  lastRunAt(): number | null;
  setLastRunAt(at: number): void;
}

export function createDigestStore(db: Db): DigestStore {
  const readSettings = db.prepare<[], { document: string; updated_at: number; updated_by: string }>('SELECT document, updated_at, updated_by FROM digest_settings WHERE id = 1');
  const writeSettings = db.prepare(`INSERT INTO digest_settings (id, document, updated_at, updated_by) VALUES (1, ?, ?, ?)
    ON CONFLICT (id) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at, updated_by = excluded.updated_by`);
  const ensureState = db.prepare("INSERT OR IGNORE INTO digest_state (id, secret, last_run_at) VALUES (1, ?, NULL)");
  const readState = db.prepare<[], { secret: string; last_run_at: number | null }>('SELECT secret, last_run_at FROM digest_state WHERE id = 1');
  const writeRun = db.prepare('UPDATE digest_state SET last_run_at = ? WHERE id = 1');
  const defaults = validateDigestSettings({});

  const state = () => {
    ensureState.run(randomBytes(32).toString('hex'));
    return readState.get()!;
  };

  return {
    settings() {
      const row = readSettings.get();
      if (!row) return { settings: defaults, updatedAt: null, updatedBy: null };
      // Stored documents passed validation; defaults added by a later release fill in here.
      return { settings: validateDigestSettings(JSON.parse(row.document)), updatedAt: row.updated_at, updatedBy: row.updated_by };
    },
    save: (settings, by, at) => void writeSettings.run(JSON.stringify(settings), at, by),
    secret: () => Buffer.from(state().secret, 'hex'),
    lastRunAt: () => state().last_run_at,
    setLastRunAt: (at) => {
      state();
      writeRun.run(at);
    },
  };
}
