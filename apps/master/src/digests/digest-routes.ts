import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ConfigError } from '@moat/config';
import { createAuditLog } from '../audit/audit-log.ts';
import { ApiError } from '../http/api-error.ts';
import { handlerValidatedBody } from '../http/handler-validated-body.ts';
import { errorResponses, isoOrNull } from '../http/schemas.ts';
import type { DigestRunner } from './digest-runner.ts';
import { DigestSettingsSchema } from './settings-schema.ts';
import { createDigestStore, validateDigestSettings, type DigestStore } from './settings-repository.ts';

const SettingsView = Type.Object({
  settings: DigestSettingsSchema,
  updatedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  updatedBy: Type.Union([Type.String(), Type.Null()]),
  lastRunAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'When the last complete round finished.' }),
  nextRunAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'When the next scheduled round is due; null while disabled.' }),
});

/**
 * The digest settings and a "send now" (registered under /api/v1). Admin only: the settings
 * decide what mail end users may release themselves. Every change is audited.
 */
export function digestRoutes(store: DigestStore, runner: DigestRunner): FastifyPluginAsyncTypebox {
  return async (app) => {
    const view = async () => {
      const s = await store.settings();
      return { settings: s.settings, updatedAt: isoOrNull(s.updatedAt), updatedBy: s.updatedBy, lastRunAt: isoOrNull(await store.lastRunAt()), nextRunAt: isoOrNull(await runner.nextDueAt()) };
    };

    app.get('/digests/settings', { config: { role: 'admin' }, schema: { summary: 'Quarantine digest settings', tags: ['digests'], response: { 200: SettingsView, ...errorResponses() } } }, async () => view());

    app.put(
      '/digests/settings',
      {
        config: { role: 'admin' },
        validatorCompiler: handlerValidatedBody,
        bodyLimit: 256 * 1024,
        schema: {
          summary: 'Replace the quarantine digest settings',
          description: 'The whole settings document; keys left out take their defaults. Invalid: 400 MOAT_ERR_DIGEST_SETTINGS_INVALID with `details` as `{ field, message }` (`templates.html`); nothing is stored.',
          tags: ['digests'],
          body: DigestSettingsSchema,
          response: { 200: SettingsView, ...errorResponses(400) },
        },
      },
      async (request) => {
        let settings;
        try {
          settings = validateDigestSettings(request.body);
        } catch (err) {
          if (err instanceof ConfigError) {
            throw new ApiError(400, 'MOAT_ERR_DIGEST_SETTINGS_INVALID', 'the digest settings are invalid; nothing was stored', err.errors.map((e) => ({ field: e.key, message: e.message })));
          }
          throw err;
        }
        // The settings and their audit entry in one transaction: stored together or not at all.
        await app.deps.database.db.transaction().execute(async (trx) => {
          const before = (await createDigestStore(trx).settings()).settings;
          await createDigestStore(trx).save(settings, request.principal!.username, app.deps.now());
          const changed = Object.keys(settings).filter((k) => JSON.stringify(settings[k as keyof typeof settings]) !== JSON.stringify(before[k as keyof typeof before]));
          await createAuditLog(trx, app.deps.now).audit(request.principal!, request.ip, 'digests.settings.update', 'digests', { changed, enabled: settings.enabled });
        });
        return view();
      },
    );

    app.post(
      '/digests/run',
      {
        config: { role: 'admin' },
        schema: {
          summary: 'Send one digest round now (whether or not digests are enabled)',
          tags: ['digests'],
          response: { 200: Type.Object({ queued: Type.Integer(), messages: Type.Integer(), waiting: Type.Integer({ description: 'Recipients whose digest waits for the next round (no scanner online, or queueing failed).' }) }), ...errorResponses() },
        },
      },
      async (request) => {
        const outcome = await runner.runRound();
        await request.audit('digests.run', 'digests', { ...outcome });
        return outcome;
      },
    );
  };
}
