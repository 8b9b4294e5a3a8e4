/**
 * The structured rules editor's pure half: read and write one field of the rules document by
 * its dotted path (the same path the API names in `details[].field`), turn list fields into
 * the one-entry-per-line text an admin edits, and hand each field the API's problems about it.
 * Keys the form does not know (sections added later, or by hand in the text editor) are kept
 * as they are: the form only ever replaces the fields it shows.
 */

export type Doc = Record<string, unknown>;
export type Path = readonly (string | number)[];

export interface Problem {
  readonly field: string;
  readonly message: string;
}

export function pathOf(dotted: string): Path {
  return dotted.split('.').filter((p) => p !== '').map((p) => (/^\d+$/.test(p) ? Number(p) : p));
}

export function getIn(doc: unknown, path: Path): unknown {
  let at: unknown = doc;
  for (const key of path) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Record<string | number, unknown>)[key];
  }
  return at;
}

/**
 * A copy of `doc` with `value` at `path` (objects and arrays on the way are copied, the rest
 * shared). `undefined` removes the key, so the master's default applies again.
 */
export function setIn<T>(doc: T, path: Path, value: unknown): T {
  if (path.length === 0) return value as T;
  const [key, ...rest] = path as [string | number, ...(string | number)[]];
  const base: unknown = doc;
  const child = base !== null && typeof base === 'object' ? (base as Record<string | number, unknown>)[key] : undefined;
  const next = rest.length === 0 ? value : setIn(child ?? (typeof rest[0] === 'number' ? [] : {}), rest, value);
  if (Array.isArray(base)) {
    const copy = [...base];
    if (next === undefined && typeof key === 'number') copy.splice(key, 1);
    else copy[key as number] = next;
    return copy as T;
  }
  const copy: Record<string | number, unknown> = { ...(base !== null && typeof base === 'object' ? (base as Record<string, unknown>) : {}) };
  if (next === undefined) delete copy[key];
  else copy[key] = next;
  return copy as T;
}

/** One entry per line (commas also separate), blanks dropped: how list fields are edited. */
export function linesToList(text: string): string[] {
  return text.split(/[\n,]/).map((s) => s.trim()).filter((s) => s !== '');
}

export function listToLines(value: unknown): string {
  return Array.isArray(value) ? value.map(String).join('\n') : '';
}

/** A number input's text as the document's value: empty → absent (the default applies); otherwise the number, or the raw text for the API to refuse by name. */
export function numberValue(text: string): number | string | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : t;
}

/**
 * The problems about one field (`lists.ipBlock`) or anything below it (`lists.ipBlock.2`),
 * worded for display next to that field; a problem about a list entry names the entry.
 */
export function problemsAt(problems: readonly Problem[], field: string, doc: Doc): string[] {
  const out: string[] = [];
  for (const p of problems) {
    if (p.field !== field && !p.field.startsWith(`${field}.`)) continue;
    const rest = p.field.slice(field.length + 1);
    if (rest === '') out.push(p.message);
    else if (/^\d+$/.test(rest)) out.push(`entry ${Number(rest) + 1} (${JSON.stringify(getIn(doc, pathOf(p.field)))}): ${p.message}`);
    else out.push(`${rest}: ${p.message}`);
  }
  return out;
}

/** The problems no field of the form claims (shown above the form, so none is ever hidden). */
export function unclaimed(problems: readonly Problem[], fields: readonly string[]): Problem[] {
  return problems.filter((p) => !fields.some((f) => p.field === f || p.field.startsWith(`${f}.`)));
}

/** Node names for the node table: the registry's nodes first, then any only the document names. */
export function nodeNames(registry: readonly string[], doc: Doc): string[] {
  const inDoc = Object.keys((doc.nodes as Record<string, unknown> | undefined) ?? {});
  return [...new Set([...registry, ...inDoc])];
}
