import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Kysely } from 'kysely';
import { ConfigError } from '@moat/config';
import { isUniqueViolation } from '../../auth/users-repository.ts';
import type { MasterSchema } from '../../db/schema.ts';
import { ApiError, notFound } from '../../http/api-error.ts';
import { handlerValidatedBody } from '../../http/handler-validated-body.ts';
import { CommentQuery, errorResponses, iso } from '../../http/schemas.ts';
import { publishRules, type PublishDeps, type PublishRequest } from '../../rules/publish-rules.ts';
import { currentRules, listRulesVersions, rulesVersion, type RulesVersionInfo, type StoredRules } from '../../rules/rules-repository.ts';
import { rebaseRulesEdit } from '../../rules/rebase-rules.ts';
import { CommentHeaders, RulesInputSchema, RulesPutQuery, RulesVersionInfoSchema, StoredRulesSchema, VersionParams, VersionsQuery } from './rules-schemas.ts';

/** A rules document is at most a few MB even with thousands of content rules. */
const RULES_BODY_LIMIT = 8 * 1024 * 1024;

/**
 * The versioned rules (registered under /api/v1). Reading needs auditor; storing a version
 * (edit or rollback) needs admin. Every stored version is audited and pushed to the scanners.
 */
export const rulesRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { now, log, cluster } = app.deps;
  const db = app.deps.database.db;
  const publishDeps: PublishDeps = { db, now, log, cluster };

  async function publish(request: PublishRequest): Promise<StoredRules> {
    try {
      return await publishRules(publishDeps, request);
    } catch (err) {
      if (err instanceof ConfigError) {
        throw new ApiError(400, 'MOAT_ERR_RULES_INVALID', 'the rules document is invalid; nothing was stored', err.errors.map((e) => ({ field: e.key, message: e.message })));
      }
      // Another master stored the same version number first (PostgreSQL, several masters).
      if (isUniqueViolation(err)) throw new ApiError(409, 'MOAT_ERR_STALE_RULES', 'another rules version was stored at the same moment; nothing was stored: reload the rules and save again');
      throw err;
    }
  }

  app.get(
    '/rules',
    {
      config: { role: 'auditor' },
      schema: { summary: 'The current rules version and document', tags: ['rules'], response: { 200: StoredRulesSchema, ...errorResponses(404) } },
    },
    async () => view((await currentRules(db)) ?? throwNotFound('rules')),
  );

  app.put(
    '/rules',
    {
      config: { role: 'admin' },
      bodyLimit: RULES_BODY_LIMIT,
      validatorCompiler: handlerValidatedBody,
      schema: {
        summary: 'Store a new rules version and push it to every scanner',
        description:
          'The body is a complete rules document. The master assigns `version` = current + 1 whatever the body says. Invalid: 400 MOAT_ERR_RULES_INVALID with `details` listing every problem as `{ field, message }`, the field being the key in the document (`content.0.regex`); nothing is stored. A reason may be given as `?comment=` or the `X-Moat-Comment` header. '
          + 'Send `?baseVersion=` (the version the edit started from): if the rules changed since (another admin, a rollback), nothing is stored: 409 MOAT_ERR_STALE_RULES with `details` naming the versions saved since, the changed keys and content rule ids. End users\' own allow and block lists are not part of the rules (they have versions of their own, `GET /api/v1/recipient-lists`): their changes never make a save stale and a save never undoes them. Without `baseVersion` the save is unconditional, except that a document without `recipientLists` (the admin\'s per-recipient lists) keeps the current ones. Two saves at the same moment on masters sharing one PostgreSQL database: the later is 409 MOAT_ERR_STALE_RULES too, and stores nothing.',
        tags: ['rules'],
        body: RulesInputSchema,
        querystring: RulesPutQuery,
        headers: CommentHeaders,
        response: { 200: StoredRulesSchema, ...errorResponses(400, 409) },
      },
    },
    async (request) => {
      const comment = request.query.comment ?? request.headers['x-moat-comment'] ?? '';
      // Read, rebase and store in one transaction: no other save can come between them.
      const input = (trx: Kysely<MasterSchema>, current: StoredRules | undefined) => rebased(trx, current, request.body, request.query.baseVersion);
      return view(await publish({ input, by: request.principal!, ip: request.ip, comment, action: 'rules.update' }));
    },
  );

  /** The edit on top of the current rules (rebase-rules.ts); a stale one is a 409 saying what changed since its base. */
  async function rebased(trx: Kysely<MasterSchema>, current: StoredRules | undefined, body: unknown, baseVersion: number | undefined): Promise<unknown> {
    if (!current || body === null || typeof body !== 'object' || Array.isArray(body)) return body;
    const base = baseVersion === undefined ? undefined : await rulesVersion(trx, baseVersion);
    if (baseVersion !== undefined && base === undefined) {
      throw new ApiError(409, 'MOAT_ERR_STALE_RULES', `version ${baseVersion} is not a stored rules version (the current one is ${current.version}): reload the rules and edit again`, { baseVersion, currentVersion: current.version });
    }
    const outcome = rebaseRulesEdit(body as Record<string, unknown>, base?.document, current.document);
    if (outcome.ok) return outcome.input;
    const since = (await listRulesVersions(trx, 20)).filter((v) => v.version > baseVersion!).map(infoView);
    throw new ApiError(
      409,
      'MOAT_ERR_STALE_RULES',
      `the rules changed since version ${baseVersion} (now ${current.version}): ${outcome.changes.changedKeys.join(', ')}; nothing was stored: reload, redo the edit and save again`,
      { baseVersion, currentVersion: current.version, ...outcome.changes, versions: since },
    );
  }

  app.get(
    '/rules/versions',
    {
      config: { role: 'auditor' },
      schema: {
        summary: 'Rules history, newest first',
        tags: ['rules'],
        querystring: VersionsQuery,
        response: {
          200: Type.Object({
            versions: Type.Array(RulesVersionInfoSchema),
            next: Type.Union([Type.Integer(), Type.Null()], { description: 'Pass as `before` for the next page; null on the last page.' }),
          }),
          ...errorResponses(400),
        },
      },
    },
    async (request) => {
      const limit = request.query.limit ?? 100;
      const versions = await listRulesVersions(db, limit, request.query.before);
      const last = versions.at(-1);
      return { versions: versions.map(infoView), next: versions.length === limit && last !== undefined ? last.version : null };
    },
  );

  app.get(
    '/rules/versions/:version',
    {
      config: { role: 'auditor' },
      schema: { summary: 'One stored rules version', tags: ['rules'], params: VersionParams, response: { 200: StoredRulesSchema, ...errorResponses(400, 404) } },
    },
    async (request) => view((await rulesVersion(db, request.params.version)) ?? throwNotFound('rules version')),
  );

  app.post(
    '/rules/versions/:version/rollback',
    {
      config: { role: 'admin' },
      schema: {
        summary: 'Roll back: store an old version\'s document as a new version and push it',
        description: 'History is never rewritten: rolling back to 3 when 5 is current stores version 6 with the document of 3, except `recipientLists`, which stay as they are now (in versions before the end users\' lists got their own store they held those lists; the end users\' lists themselves are never touched by a rollback).',
        tags: ['rules'],
        params: VersionParams,
        querystring: CommentQuery,
        response: { 200: StoredRulesSchema, ...errorResponses(400, 404) },
      },
    },
    async (request) => {
      const target = (await rulesVersion(db, request.params.version)) ?? throwNotFound('rules version');
      const reason = request.query.comment;
      const comment = `rollback to version ${target.version}${reason ? `: ${reason}` : ''}`;
      // Versions from before migration 17 hold the end users' lists in recipientLists: never brought back into the rules.
      const input = (_trx: Kysely<MasterSchema>, current: StoredRules | undefined) => ({ ...target.document, recipientLists: current?.document.recipientLists ?? {} });
      return view(
        await publish({ input, by: request.principal!, ip: request.ip, comment, action: 'rules.rollback', extra: { rolledBackTo: target.version } }),
      );
    },
  );
};

function throwNotFound(what: string): never {
  throw notFound(what);
}

function infoView(info: RulesVersionInfo) {
  return { version: info.version, createdAt: iso(info.createdAt), createdBy: info.createdBy, comment: info.comment };
}

function view(stored: StoredRules) {
  return { ...infoView(stored), document: stored.document };
}
