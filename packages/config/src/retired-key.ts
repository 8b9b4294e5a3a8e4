import { Type } from 'typebox';

/**
 * A config key that was removed. No value passes, and its error says what replaced it (an
 * unknown key would only say "unknown key", and an operator upgrading would not learn where to
 * go). `collectErrors` reports `message` at the key; `describeSchema` lists it as removed.
 */
export function RetiredKey(message: string) {
  return Type.Optional(Type.Never({ description: `Removed: ${message}`, retired: message }));
}

/** The retirement message of the schema at `schemaPath` (`#/properties/a/properties/b`), if it is a retired key. */
export function retiredMessage(root: unknown, schemaPath: string): string | undefined {
  let at: unknown = root;
  for (const part of schemaPath.replace(/^#\/?/, '').split('/').filter((p) => p !== '')) {
    if (typeof at !== 'object' || at === null) return undefined;
    at = (at as Record<string, unknown>)[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  const retired = typeof at === 'object' && at !== null ? (at as { retired?: unknown }).retired : undefined;
  return typeof retired === 'string' ? retired : undefined;
}
