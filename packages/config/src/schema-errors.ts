import type { TSchema } from 'typebox';
import { Value } from 'typebox/value';
import { retiredMessage } from './retired-key.ts';

/** One validation problem, named by a dotted key path (`smtp.listen.port`). */
export interface FieldError {
  readonly key: string;
  readonly message: string;
  /** Where the file writes the key (1-based), when the document came from a file that has it. */
  readonly line?: number;
  readonly column?: number;
}

/** `/smtp/listen/port` → `smtp.listen.port`; the root is `(root)`. */
export function pointerToKey(pointer: string): string {
  if (pointer === '' || pointer === '/') return '(root)';
  return pointer
    .slice(1)
    .split('/')
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
}

/**
 * Validate `value` against `schema` and return every problem with the key that caused it.
 * Unknown keys are reported by their own name, not their parent's, so a typo names itself.
 */
export function collectErrors(schema: TSchema, value: unknown): FieldError[] {
  const out: FieldError[] = [];
  const seen = new Set<string>();
  for (const error of Value.Errors(schema, value)) {
    // typebox reports an unknown key twice: once as `schema is false` at its path and once as
    // `additionalProperties` at the parent. Keep the one that names the key.
    if (error.keyword === 'additionalProperties') {
      const extra = (error.params as { additionalProperties?: string[] }).additionalProperties ?? [];
      for (const name of extra) push(`${error.instancePath}/${name}`, 'unknown key');
      continue;
    }
    if (error.keyword === 'boolean') {
      push(error.instancePath, 'unknown key');
      continue;
    }
    if (error.keyword === 'not') {
      const retired = retiredMessage(schema, error.schemaPath);
      if (retired) {
        push(error.instancePath, retired);
        continue;
      }
    }
    if (error.keyword === 'required') {
      const missing = (error.params as { requiredProperties?: string[] }).requiredProperties ?? [];
      for (const name of missing) push(`${error.instancePath}/${name}`, 'required key is missing');
      continue;
    }
    push(error.instancePath, error.message);
  }
  return out;

  function push(pointer: string, message: string): void {
    const key = pointerToKey(pointer);
    const id = `${key}\u0000${message}`;
    if (seen.has(id)) return;
    seen.add(id);
    out.push({ key, message });
  }
}
