/**
 * The keys a JSON text repeats inside one object, at any depth (JSON.parse keeps the last one
 * silently; a log collector may keep either). Each as `path.key`, e.g. `.node` or `.err.code`.
 * Expects valid JSON (parse it first).
 */
export function duplicateKeys(json: string): string[] {
  const out: string[] = [];
  // One frame per open object or array: the keys seen so far (objects) and the path to it.
  const stack: Array<{ keys: Set<string> | null; path: string; pendingKey: string | null }> = [];
  let i = 0;
  const readString = (): string => {
    let s = '';
    for (i++; json[i] !== '"'; i++) {
      if (json[i] === '\\') {
        s += json.slice(i, i + 2);
        i++;
      } else s += json[i];
    }
    i++;
    return s;
  };
  while (i < json.length) {
    const c = json[i]!;
    const top = stack.at(-1);
    if (c === '{' || c === '[') {
      const path = top ? `${top.path}${top.keys ? `.${top.pendingKey}` : '[]'}` : '';
      stack.push({ keys: c === '{' ? new Set() : null, path, pendingKey: null });
      i++;
    } else if (c === '}' || c === ']') {
      stack.pop();
      i++;
    } else if (c === '"') {
      const start = i;
      const s = readString();
      let j = i;
      while (json[j] === ' ') j++;
      if (top?.keys && json[j] === ':' && (json[start - 1] === '{' || json[start - 1] === ',' || /[{,]\s*$/.test(json.slice(0, start)))) {
        if (top.keys.has(s)) out.push(`${top.path}.${s}`);
        top.keys.add(s);
        top.pendingKey = s;
      }
    } else i++;
  }
  return out;
}
