import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';

/**
 * Query strings, path parameters and headers arrive as text, and ajv coerces a numeric-looking
 * string to a number before it checks it. ajv 8 (8.20 here) lets `Infinity`, `-Infinity` and
 * overflowing strings such as `1e999` through as non-finite numbers, and then skips `minimum`
 * and `maximum`, which it applies to finite numbers only (ajv-validator/ajv#2212,
 * fastify/fastify#6718; found here by fuzzing: `GET /api/v1/rules/versions?limit=Infinity`
 * reached SQLite's LIMIT and answered 500). JSON bodies are not affected: ajv checks a parsed
 * number (JSON's `1e999` too) for finiteness.
 *
 * This hook runs after validation, for every route: a non-finite number in the coerced parts is
 * refused like any other invalid field (400 MOAT_ERR_VALIDATION, `details` naming it).
 */
const COERCED = [
  ['query', 'querystring'],
  ['params', 'params'],
  ['headers', 'headers'],
] as const;

export interface NonFiniteField {
  readonly instancePath: string;
  readonly keyword: 'finite';
  readonly message: string;
}

/** The non-finite numbers in a coerced part (top-level keys and array items: what a query, path or header holds). */
export function nonFiniteFields(values: unknown): NonFiniteField[] {
  if (values === null || typeof values !== 'object') return [];
  const found: NonFiniteField[] = [];
  const visit = (value: unknown, path: string) => {
    if (typeof value === 'number' && !Number.isFinite(value)) found.push({ instancePath: path, keyword: 'finite', message: 'must be a finite number' });
    else if (Array.isArray(value)) value.forEach((item, i) => visit(item, `${path}/${i}`));
  };
  for (const [key, value] of Object.entries(values)) visit(value, `/${key}`);
  return found;
}

async function finiteNumbers(app: FastifyInstance): Promise<void> {
  app.addHook('preHandler', async (request) => {
    for (const [part, context] of COERCED) {
      const validation = nonFiniteFields(request[part]);
      if (validation.length > 0) throw Object.assign(new Error(`${part}: a number that is not finite`), { statusCode: 400, validation, validationContext: context });
    }
  });
}

export default fp(finiteNumbers, { name: 'moat-finite-numbers', fastify: '5.x' });
