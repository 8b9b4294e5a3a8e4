import { Type } from 'typebox';
import { RulesSchema } from '@moat/rules';
import { CommentQuery, PageLimit, Timestamp } from '../../http/schemas.ts';

const versionInfo = {
  version: Type.Integer({ minimum: 1, description: 'Rules version, assigned by the master: 1, 2, 3…' }),
  createdAt: Timestamp('When this version was stored.'),
  createdBy: Type.String({ description: 'Who stored it (`system` for the seeded first version).' }),
  comment: Type.String({ description: 'Why (may be empty).' }),
};

export const RulesVersionInfoSchema = Type.Object(versionInfo);

export const StoredRulesSchema = Type.Object({ ...versionInfo, document: RulesSchema });

/** What PUT accepts: a rules document whose `version` may be left out (the master assigns it). */
export const RulesInputSchema = Type.Object(
  {
    ...RulesSchema.properties,
    version: Type.Optional(Type.Integer({ minimum: 0, description: 'Ignored: the master stores the document as the current version + 1.' })),
  },
  { additionalProperties: false, description: 'A complete rules document (see docs/configuration.md for every key).' },
);

/** PUT /rules: the reason, and the version the edit started from. */
export const RulesPutQuery = Type.Object(
  {
    ...CommentQuery.properties,
    baseVersion: Type.Optional(Type.Integer({ minimum: 1, description: 'The version this edit started from (as GET /rules returned it): a save over a change made since (another admin, a rollback) is refused with 409 MOAT_ERR_STALE_RULES. End users\' list changes are not rules versions and never make it stale.' })),
  },
  { additionalProperties: false },
);

export const VersionParams = Type.Object(
  { version: Type.Integer({ minimum: 1, description: 'Rules version.' }) },
  { additionalProperties: false },
);

export const CommentHeaders = Type.Object({
  'x-moat-comment': Type.Optional(Type.String({ maxLength: 500, description: 'Why (instead of the `comment` query parameter).' })),
});

export const VersionsQuery = Type.Object(
  {
    before: Type.Optional(Type.Integer({ minimum: 1, description: 'Page cursor: versions below this (the previous page\'s `next`).' })),
    limit: PageLimit(500, 100),
  },
  { additionalProperties: false },
);
