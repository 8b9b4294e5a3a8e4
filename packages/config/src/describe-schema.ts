/**
 * Turns a (TypeBox / JSON) schema into documentation rows, so the docs of every config key
 * come from the same schema that validates it and cannot drift from it.
 */
export interface KeyDoc {
  readonly key: string;
  readonly type: string;
  readonly required: boolean;
  readonly default: string;
  readonly description: string;
}

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  const?: unknown;
  default?: unknown;
  description?: string;
  additionalProperties?: boolean | JsonSchema;
  patternProperties?: Record<string, JsonSchema>;
  minimum?: number;
  maximum?: number;
  /** RetiredKey: a removed key. */
  retired?: string;
}

export function describeSchema(schema: unknown, prefix = ''): KeyDoc[] {
  const s = schema as JsonSchema;
  const rows: KeyDoc[] = [];
  for (const [name, child] of Object.entries(s.properties ?? {})) {
    const key = prefix ? `${prefix}.${name}` : name;
    const required = (s.required ?? []).includes(name) && child.default === undefined;
    if (child.properties) {
      if (child.description) rows.push({ key, type: 'object', required, default: '', description: child.description });
      rows.push(...describeSchema(child, key));
      continue;
    }
    rows.push({ key, type: typeName(child), required, default: child.default === undefined ? '' : JSON.stringify(child.default), description: child.description ?? '' });
  }
  return rows;
}

function typeName(s: JsonSchema): string {
  if (s.retired !== undefined) return 'removed';
  if (s.anyOf) return s.anyOf.map((a) => (a.const !== undefined ? JSON.stringify(a.const) : typeName(a))).join(' \\| ');
  if (s.type === 'array') return `${s.items ? typeName(s.items) : 'any'}[]`;
  if (s.patternProperties) return 'map';
  const range = s.minimum !== undefined || s.maximum !== undefined ? ` (${s.minimum ?? ''}…${s.maximum ?? ''})` : '';
  return `${Array.isArray(s.type) ? s.type.join('|') : (s.type ?? 'any')}${range}`;
}

/** A markdown table of the rows. */
export function keyTable(rows: readonly KeyDoc[]): string {
  const esc = (t: string) => t.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  return [
    '| key | type | default | description |',
    '| --- | --- | --- | --- |',
    ...rows.map((r) => `| \`${r.key}\` | ${r.type.replace(/(?<!\\)\|/g, '\\|')} | ${r.required ? '**required**' : r.default ? `\`${esc(r.default)}\`` : ''} | ${esc(r.description)} |`),
  ].join('\n');
}
