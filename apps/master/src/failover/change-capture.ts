import type { Db } from '@moat/storage';

/**
 * Row-level change capture for replication: AFTER INSERT/UPDATE/DELETE triggers on every
 * replicated table append to `repl_changes` inside the writer's own transaction. Tables are
 * found in the schema at start, so a table added by a later migration is replicated without
 * further code; the triggers are recreated at every start, so a column added later is in them.
 *
 * Not replicated: SQLite's own tables, the replication tables, and the FTS5 indexes (virtual
 * tables take no triggers; a standby rebuilds them from the rows: see FTS_MIRRORS).
 */
export interface ReplicatedTable {
  readonly name: string;
  readonly columns: readonly string[];
  /** Primary-key columns, in key order (every master table has one). */
  readonly key: readonly string[];
}

/** Contentless FTS5 indexes kept by hand beside their table (rowid = rid, column subject). */
export const FTS_MIRRORS: Readonly<Record<string, string>> = { messages: 'messages_fts', quarantine: 'quarantine_fts' };

const q = (id: string): string => `"${id.replaceAll('"', '""')}"`;
const lit = (s: string): string => `'${s.replaceAll("'", "''")}'`;

export function replicatedTables(db: Db): ReplicatedTable[] {
  const names = db
    .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE 'repl\\_%' ESCAPE '\\' AND name NOT GLOB '*_fts*' AND sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY name")
    .all()
    .map((r) => r.name);
  return names.map((name) => {
    const info = db.prepare<[], { name: string; pk: number }>(`PRAGMA table_info(${q(name)})`).all();
    const key = info.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name);
    if (key.length === 0) throw new Error(`replication: table ${name} has no primary key`);
    return { name, columns: info.map((c) => c.name), key };
  });
}

function jsonOf(alias: 'NEW' | 'OLD', columns: readonly string[]): string {
  return `json_object(${columns.map((c) => `${lit(c)}, ${alias}.${q(c)}`).join(', ')})`;
}

function triggerSql(t: ReplicatedTable): string[] {
  const when = 'WHEN (SELECT capture FROM repl_state WHERE id = 1) = 1';
  const insert = (op: string, old: string, row: string) =>
    `INSERT INTO repl_changes (epoch, at, tbl, op, old, row) VALUES ((SELECT epoch FROM repl_state WHERE id = 1), CAST(unixepoch('subsec') * 1000 AS INTEGER), ${lit(t.name)}, '${op}', ${old}, ${row});`;
  return [
    `CREATE TRIGGER ${q(`repl_${t.name}_ins`)} AFTER INSERT ON ${q(t.name)} ${when} BEGIN ${insert('upsert', 'NULL', jsonOf('NEW', t.columns))} END`,
    `CREATE TRIGGER ${q(`repl_${t.name}_upd`)} AFTER UPDATE ON ${q(t.name)} ${when} BEGIN ${insert('upsert', jsonOf('OLD', t.columns), jsonOf('NEW', t.columns))} END`,
    `CREATE TRIGGER ${q(`repl_${t.name}_del`)} AFTER DELETE ON ${q(t.name)} ${when} BEGIN ${insert('delete', jsonOf('OLD', t.columns), 'NULL')} END`,
  ];
}

/** Drop every capture trigger (a master without failover pays nothing for replication). */
export function removeChangeCapture(db: Db): void {
  const old = db.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'repl\\_%' ESCAPE '\\'").all();
  for (const t of old) db.exec(`DROP TRIGGER ${q(t.name)}`);
}

/** Capture on (the active master) or off (a standby, which copies the active master's log instead). */
export function setCapture(db: Db, on: boolean): void {
  db.prepare('UPDATE repl_state SET capture = ? WHERE id = 1').run(on ? 1 : 0);
}

/** (Re)create the capture triggers for the schema as it is now; returns the tables captured. */
export function installChangeCapture(db: Db): ReplicatedTable[] {
  return db.transaction(() => {
    removeChangeCapture(db);
    const tables = replicatedTables(db);
    for (const t of tables) for (const sql of triggerSql(t)) db.exec(sql);
    return tables;
  })();
}

export { q as quoteIdent };
