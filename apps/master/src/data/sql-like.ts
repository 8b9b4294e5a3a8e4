/** A LIKE pattern matching `text` anywhere, with LIKE's own wildcards escaped (use with ESCAPE '\'). */
export function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** A quoted FTS5 phrase: with the trigram tokenizer it matches `text` as a substring. */
export function ftsPhrase(text: string): string {
  return `"${text.replace(/"/g, '""')}"`;
}

/** The distinct runs of three characters (code points) of `text`, in order: what a trigram index holds of it. */
export function trigramsOf(text: string): string[] {
  const chars = [...text];
  const out = new Set<string>();
  for (let i = 0; i + 3 <= chars.length; i++) out.add(chars.slice(i, i + 3).join(''));
  return [...out];
}

/** An FTS5 query for rows holding every one of `texts` (each a quoted phrase), in any places. */
export function ftsAllOf(texts: readonly string[]): string {
  return texts.map(ftsPhrase).join(' AND ');
}
