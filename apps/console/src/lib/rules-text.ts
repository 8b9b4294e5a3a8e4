import { parseDocument, stringify } from 'yaml';

export type TextFormat = 'yaml' | 'json';

/** The rules document as the text the admin edits (without `version`: the master assigns it). */
export function toText(document: Record<string, unknown>, format: TextFormat): string {
  const { version: _v, ...rest } = document;
  return format === 'json' ? `${JSON.stringify(rest, null, 2)}\n` : stringify(rest);
}

export interface Parsed {
  readonly value?: unknown;
  readonly error?: string;
  /** Line (1-based) of a dotted field path in the text, to point at the API's `details[].field`. */
  lineOf(field: string): number | undefined;
}

/** YAML is a superset of JSON, so one parser reads both and maps a field back to its line. */
export function parseText(text: string): Parsed {
  const doc = parseDocument(text, { prettyErrors: false });
  const lineOf = (field: string) => {
    const path = field.split('.').filter((p) => p !== '').map((p) => (/^\d+$/.test(p) ? Number(p) : p));
    for (let n = path.length; n > 0; n--) {
      const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
      if (node?.range) return text.slice(0, node.range[0]).split('\n').length;
    }
    return undefined;
  };
  if (doc.errors.length > 0) return { error: doc.errors[0]!.message, lineOf };
  return { value: doc.toJS(), lineOf };
}
