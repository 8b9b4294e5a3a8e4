import { ApiError, describe } from './api.ts';

/**
 * A 400's `details: [{ field: 'body.username', message }]` as messages by field name
 * (`username`), so a form shows each next to its input; anything that names no field of
 * the form goes to `''` (shown above the form).
 */
export function fieldErrors(err: unknown, fields: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const add = (key: string, message: string) => (out[key] = out[key] ? `${out[key]}; ${message}` : message);
  if (err instanceof ApiError && err.fieldProblems.length > 0) {
    for (const p of err.fieldProblems) {
      const name = p.field.replace(/^(body|query|params)\./, '').split('.')[0] ?? '';
      if (fields.includes(name)) add(name, p.message);
      else add('', `${p.field}: ${p.message}`);
    }
    return out;
  }
  add('', describe(err));
  return out;
}
