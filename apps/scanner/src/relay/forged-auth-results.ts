import { UNTRUSTED_PREFIX } from './forged-verdicts.ts';

/**
 * RFC 8601 section 5: a border MTA must not pass on Authentication-Results that claim, by their
 * authserv-id, to come from inside its trust boundary: downstream trusts that id. Such header
 * fields in the received message are renamed (not deleted: an admin can still see what was
 * forged); ours are prepended at relay time and never pass through here.
 */
export const RENAMED_AUTH_RESULTS = `${UNTRUSTED_PREFIX}Authentication-Results`;

/**
 * The header block with every `Authentication-Results` field whose authserv-id is one of `ids`
 * (case-insensitive) renamed. Only the names change: folding, line ends and every other byte
 * stay as they were. `block` is latin1 text (bytes as characters), so nothing is re-encoded.
 */
export function renameForgedAuthResults(block: string, ids: readonly string[]): { block: string; renamed: number } {
  if (ids.length === 0 || !/authentication-results/i.test(block)) return { block, renamed: 0 };
  const wanted = new Set(ids.map((id) => id.toLowerCase()));
  let renamed = 0;
  // One field = its first line and the continuation lines (starting with white space) after it.
  const out = block.replace(/^(authentication-results)([ \t]*:)((?:[^\n]*\n?)(?:[ \t][^\n]*\n?)*)/gim, (field, _name: string, colon: string, value: string) => {
    const id = authservId(value);
    if (id === undefined || !wanted.has(id.toLowerCase())) return field;
    renamed++;
    return `${RENAMED_AUTH_RESULTS}${colon}${value}`;
  });
  return { block: out, renamed };
}

/** The authserv-id: the first token of the value after folding white space and comments. */
export function authservId(value: string): string | undefined {
  let rest = value.replace(/\r?\n/g, '');
  // Leading CFWS: white space and (possibly nested) comments.
  for (;;) {
    rest = rest.replace(/^[ \t]+/, '');
    if (!rest.startsWith('(')) break;
    let depth = 0;
    let i = 0;
    for (; i < rest.length; i++) {
      if (rest[i] === '\\') i++;
      else if (rest[i] === '(') depth++;
      else if (rest[i] === ')' && --depth === 0) break;
    }
    rest = rest.slice(i + 1);
  }
  const quoted = /^"((?:[^"\\]|\\.)*)"/.exec(rest);
  if (quoted) return quoted[1]!.replace(/\\(.)/g, '$1');
  const token = /^[^\s;()"]+/.exec(rest);
  return token ? token[0] : undefined;
}
