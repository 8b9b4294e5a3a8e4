import { isMap, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import type { FieldError } from './schema-errors.ts';

/** Where a key is written in its file: 1-based, as an editor shows it. */
export interface Position {
  readonly line: number;
  readonly column: number;
}

/** A dotted key (`smtp.listen.port`, `lists.allow.0`) → where the file writes it, if it does. */
export type PositionOf = (key: string) => Position | undefined;

/** The key's own node, so an error points at the name an operator looks for, not its value. */
export function positionsOf(doc: Document, lines: LineCounter): PositionOf {
  const at = (node: Node | null | undefined): Position | undefined => {
    const offset = node?.range?.[0];
    if (offset === undefined) return undefined;
    const { line, col } = lines.linePos(offset);
    return { line, column: col };
  };
  // A map's key may itself hold dots (a domain: `example.com`), so a path matches the longest
  // run of segments that names a key at each level.
  const find = (node: unknown, parts: readonly string[], from: number): Position | undefined => {
    if (isMap(node)) {
      for (let to = parts.length; to > from; to--) {
        const name = parts.slice(from, to).join('.');
        const pair = node.items.find((p) => String(isScalar(p.key) ? p.key.value : p.key) === name);
        if (!pair) continue;
        const found = to === parts.length ? at(pair.key as Node) : find(pair.value, parts, to);
        if (found) return found;
      }
      return undefined;
    }
    if (isSeq(node)) {
      const item = node.items[Number(parts[from])];
      if (!/^\d+$/.test(parts[from] ?? '') || item === undefined) return undefined;
      return from + 1 === parts.length ? at(item as Node) : find(item, parts, from + 1);
    }
    return undefined;
  };
  return (key) => (key === '(root)' ? undefined : find(doc.contents, key.split('.'), 0));
}

/** Each error that has no position yet gets its key's, where the file has that key. */
export function withPositions(errors: readonly FieldError[], positionOf: PositionOf): FieldError[] {
  return errors.map((e) => {
    if (e.line !== undefined) return e;
    const p = positionOf(e.key);
    return p ? { ...e, line: p.line, column: p.column } : e;
  });
}

/** `smtp.listen.port (line 4, column 11): must be integer`: the one way a FieldError is shown. */
export function formatFieldError(e: FieldError): string {
  const where = e.line === undefined ? '' : ` (line ${e.line}${e.column === undefined ? '' : `, column ${e.column}`})`;
  return `${e.key}${where}: ${e.message}`;
}
