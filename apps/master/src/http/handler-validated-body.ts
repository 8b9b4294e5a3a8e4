import type { FastifySchemaCompiler } from 'fastify';
import type { TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { Value } from 'typebox/value';

/**
 * A validator compiler for routes whose body is a whole document validated by the handler
 * (the rules document goes through validateRules, which applies defaults, runs the checks a
 * schema cannot express and names every bad key at once). The body schema is still declared,
 * for the OpenAPI document; the other parts (query, params, headers) are checked here.
 */
export const handlerValidatedBody: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  if (httpPart === 'body') return (value: unknown) => ({ value });
  const check = Compile(schema);
  return (value: unknown) => {
    const converted = Value.Convert(schema, Value.Default(schema, value));
    if (check.Check(converted)) return { value: converted };
    return { error: check.Errors(converted) as never };
  };
};
