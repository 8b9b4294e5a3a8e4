import { Type, type Static, type TSchema } from 'typebox';

/** Shapes shared by many routes. */

export const ErrorSchema = Type.Object(
  {
    error: Type.String({ description: 'What went wrong, for people; do not match on it.' }),
    code: Type.String({ description: 'Stable machine-readable code, `MOAT_ERR_*` (see the README).' }),
    details: Type.Optional(Type.Unknown({ description: 'Specifics: for validation errors a list of `{ field, message }`.' })),
  },
  { description: 'Every error answer has this shape.' },
);
export type ErrorBody = Static<typeof ErrorSchema>;

const ERROR_DESCRIPTIONS: Readonly<Record<number, string>> = {
  400: 'Invalid input (MOAT_ERR_VALIDATION, with the fields in `details`).',
  401: 'No valid session cookie or API token (MOAT_ERR_UNAUTHENTICATED).',
  403: 'The signed-in role is too weak (MOAT_ERR_FORBIDDEN).',
  404: 'No such resource (MOAT_ERR_NOT_FOUND).',
  409: 'The change conflicts with the current state.',
  410: 'The resource existed and is gone for good (MOAT_ERR_GONE).',
  429: 'Too many failed attempts (MOAT_ERR_RATE_LIMITED); see Retry-After.',
};

/** Response schemas for the given error statuses, for the OpenAPI document. */
export function errorResponses(...statuses: number[]): Record<number, TSchema> {
  const out: Record<number, TSchema> = {};
  for (const status of [401, 403, ...statuses]) {
    out[status] = Type.Object(ErrorSchema.properties, { description: ERROR_DESCRIPTIONS[status] ?? 'Error.' });
  }
  return out;
}

export const Timestamp = (description: string) => Type.String({ format: 'date-time', description });
export const NullableTimestamp = (description: string) =>
  Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description });

export const iso = (ms: number): string => new Date(ms).toISOString();
export const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));

export const CommentQuery = Type.Object(
  { comment: Type.Optional(Type.String({ maxLength: 500, description: 'Why: stored with the rules version and in the audit log. Also accepted as the `X-Moat-Comment` header.' })) },
  { additionalProperties: false },
);

export const PageLimit = (max: number, fallback: number) =>
  Type.Integer({ minimum: 1, maximum: max, default: fallback, description: `Page size, at most ${max}.` });
