/**
 * Audit details are for people reading "who changed what": they must never carry a secret.
 * Callers should not pass one; this is the safety net. Any key that names a secret is
 * replaced, at any depth.
 */
const SECRET_KEY = /pass(word|phrase)?$|secret|^token$|tokenhash|credential|authorization|cookie|^hash$|passwordhash/i;

export function redactSecrets(value: unknown, depth = 0): unknown {
  if (depth > 8) return '[too deep]';
  if (Array.isArray(value)) return value.map((item) => redactSecrets(item, depth + 1));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) {
      out[key] = SECRET_KEY.test(key) ? '[redacted]' : redactSecrets(child, depth + 1);
    }
    return out;
  }
  return value;
}
