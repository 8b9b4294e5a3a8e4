/**
 * Where the in-process ingest's database time goes: a Kysely plugin that counts the statements
 * sent through the handle it is attached to (and the transactions made from it) and times each
 * one, from the moment Kysely hands it to the driver to its result: on PostgreSQL the round
 * trip and the server's work, on SQLite the library call. Statements are grouped by what they
 * do to which table (`INSERT messages`), raw SQL by its first words. BEGIN and COMMIT are the
 * driver's, not statements: not seen here.
 */
import type { KyselyPlugin, RootOperationNode } from 'kysely';

export interface StatementKind {
  readonly label: string;
  readonly count: number;
  /** Summed time of its statements (they may overlap when several transactions run at once). */
  readonly ms: number;
}

export interface StatementProfiler extends KyselyPlugin {
  /** Statements so far. */
  count(): number;
  /** Per kind, most time first. */
  kinds(): StatementKind[];
  reset(): void;
}

const VERB: Readonly<Record<string, string>> = { InsertQueryNode: 'INSERT', SelectQueryNode: 'SELECT', UpdateQueryNode: 'UPDATE', DeleteQueryNode: 'DELETE', MergeQueryNode: 'MERGE' };

/** The first table a query names, depth first (the target of an INSERT/UPDATE/DELETE, the first FROM of a SELECT). */
function firstTable(node: unknown, depth = 0): string | undefined {
  if (!node || typeof node !== 'object' || depth > 12) return undefined;
  const n = node as { kind?: string; table?: { identifier?: { name?: string } } };
  if (n.kind === 'TableNode' && typeof n.table?.identifier?.name === 'string') return n.table.identifier.name;
  for (const value of Object.values(node)) {
    const found = Array.isArray(value) ? value.map((v) => firstTable(v, depth + 1)).find(Boolean) : firstTable(value, depth + 1);
    if (found) return found;
  }
  return undefined;
}

/** What a statement does to which table: `INSERT messages`; raw SQL: its first words. */
export function statementLabel(node: RootOperationNode): string {
  if (node.kind === 'RawNode') return node.sqlFragments.join('$').replace(/\s+/g, ' ').trim().slice(0, 48);
  return `${VERB[node.kind] ?? node.kind} ${firstTable(node) ?? '?'}`;
}

export function statementProfiler(now: () => number = () => performance.now()): StatementProfiler {
  const started = new Map<string, { label: string; at: number }>();
  const byLabel = new Map<string, { count: number; ms: number }>();
  let total = 0;
  return {
    transformQuery(args) {
      started.set(args.queryId.queryId, { label: statementLabel(args.node), at: now() });
      return args.node;
    },
    async transformResult(args) {
      const s = started.get(args.queryId.queryId);
      if (s) {
        started.delete(args.queryId.queryId);
        const k = byLabel.get(s.label) ?? { count: 0, ms: 0 };
        k.count++;
        k.ms += now() - s.at;
        byLabel.set(s.label, k);
      }
      total++;
      return args.result;
    },
    count: () => total,
    kinds: () => [...byLabel].map(([label, k]) => ({ label, ...k })).sort((a, b) => b.ms - a.ms),
    reset() {
      byLabel.clear();
      total = 0;
    },
  };
}
