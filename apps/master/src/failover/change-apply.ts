import Database from 'better-sqlite3';
import type { Db } from '@moat/storage';
import type { Change, LogPoint } from './change-log.ts';
import { FTS_MIRRORS, quoteIdent as q, replicatedTables, type ReplicatedTable } from './change-capture.ts';

/** The standby's side of the log: applies the active master's changes and snapshots, in order, idempotently. */
export class ReplicationGapError extends Error {
  override readonly name = 'ReplicationGapError';
}

type Row = Record<string, unknown>;

interface TableOps {
  readonly t: ReplicatedTable;
  upsert(row: Row): void;
  remove(key: Row): void;
  clear(): void;
}

function tableOps(db: Db, t: ReplicatedTable): TableOps {
  const nonKey = t.columns.filter((c) => !t.key.includes(c));
  const conflict = nonKey.length === 0 ? 'DO NOTHING' : `DO UPDATE SET ${nonKey.map((c) => `${q(c)} = excluded.${q(c)}`).join(', ')}`;
  // An upsert, never INSERT OR REPLACE: a replace deletes first, which would cascade to children.
  const upsert = db.prepare(`INSERT INTO ${q(t.name)} (${t.columns.map(q).join(', ')}) VALUES (${t.columns.map(() => '?').join(', ')}) ON CONFLICT (${t.key.map(q).join(', ')}) ${conflict}`);
  const where = t.key.map((c) => `${q(c)} = ?`).join(' AND ');
  const remove = db.prepare(`DELETE FROM ${q(t.name)} WHERE ${where}`);
  const clear = db.prepare(`DELETE FROM ${q(t.name)}`);
  const fts = FTS_MIRRORS[t.name];
  const subjectOf = fts ? db.prepare<[unknown], { subject: string }>(`SELECT subject FROM ${q(t.name)} WHERE rid = ?`) : undefined;
  const ftsDelete = fts ? db.prepare(`DELETE FROM ${q(fts)} WHERE rowid = ?`) : undefined;
  const ftsInsert = fts ? db.prepare(`INSERT INTO ${q(fts)} (rowid, subject) VALUES (?, ?)`) : undefined;
  const ftsClear = fts ? db.prepare(`INSERT INTO ${q(fts)} (${q(fts)}) VALUES ('delete-all')`) : undefined;
  const dropFts = (rid: unknown) => {
    if (subjectOf?.get(rid)) ftsDelete!.run(rid);
  };
  return {
    t,
    upsert(row) {
      for (const c of Object.keys(row)) if (!t.columns.includes(c)) throw new Error(`replication: ${t.name}.${c} is not a column here (schema versions differ)`);
      if (fts) dropFts(row['rid']);
      upsert.run(...t.columns.map((c) => (row[c] === undefined ? null : row[c])));
      if (fts) ftsInsert!.run(row['rid'], row['subject']);
    },
    remove(key) {
      if (fts) dropFts(key['rid']);
      remove.run(...t.key.map((c) => key[c]));
    },
    clear() {
      clear.run();
      ftsClear?.run();
    },
  };
}

export function createApplier(db: Db) {
  const ops = new Map(replicatedTables(db).map((t) => [t.name, tableOps(db, t)]));
  const position = db.prepare<[], { applied_seq: number }>('SELECT applied_seq FROM repl_state WHERE id = 1');
  const setPosition = db.prepare<[number, number, number]>('UPDATE repl_state SET applied_seq = ?, applied_epoch = ?, applied_at = ? WHERE id = 1');
  const copy = db.prepare<[number, number, number, string, string, string | null, string | null]>('INSERT OR REPLACE INTO repl_changes (seq, epoch, at, tbl, op, old, row) VALUES (?, ?, ?, ?, ?, ?, ?)');
  const after = db.prepare<[number], Change>('SELECT seq, epoch, at, tbl, op, old, row FROM repl_changes WHERE seq > ? ORDER BY seq DESC');
  const dropAfter = db.prepare<[number]>('DELETE FROM repl_changes WHERE seq > ?');
  const clearLog = db.prepare('DELETE FROM repl_changes');
  const setCopying = db.prepare<[number]>('UPDATE repl_state SET copying = ? WHERE id = 1');
  const table = (name: string): TableOps => {
    const o = ops.get(name);
    if (!o) throw new Error(`replication: table ${name} does not exist here (schema versions differ)`);
    return o;
  };
  /** Run `fn` in one transaction (capture is off on a standby: the copied log rows are the record). */
  const applying = <T>(fn: () => T): T => db.transaction(fn)();

  return {
    /**
     * Apply a run of changes in one transaction, with the position: a crash keeps either all
     * of it or none. Changes at or below the position are skipped (a resend); a gap throws.
     */
    apply(changes: readonly Change[]): number {
      return applying(() => {
        let at = position.get()!.applied_seq;
        let applied = 0;
        for (const c of changes) {
          if (c.seq <= at) continue;
          if (c.seq !== at + 1) throw new ReplicationGapError(`replication: expected change ${at + 1}, got ${c.seq}`);
          if (c.op === 'upsert') {
            const o = table(c.tbl);
            const row = JSON.parse(c.row ?? '{}') as Row;
            if (c.old) {
              const old = JSON.parse(c.old) as Row;
              if (o.t.key.some((k) => old[k] !== row[k])) o.remove(old);
            }
            o.upsert(row);
          } else if (c.op === 'delete') table(c.tbl).remove(JSON.parse(c.old ?? '{}') as Row);
          copy.run(c.seq, c.epoch, c.at, c.tbl, c.op, c.old, c.row);
          setPosition.run(c.seq, c.epoch, c.at);
          at = c.seq;
          applied++;
        }
        return applied;
      });
    },
    /**
     * Undo this master's log entries after `point`, newest first, with the old rows they keep,
     * and drop them: its state is then the active master's at `point`, and the changes
     * continue from there. One transaction: a crash keeps all of it or none. Returns the
     * number undone.
     */
    rollbackTo(point: LogPoint): number {
      return applying(() => {
        const undo = after.all(point.seq);
        for (const c of undo) {
          if (c.op === 'mark') continue;
          const o = table(c.tbl);
          const row = c.row ? (JSON.parse(c.row) as Row) : undefined;
          const old = c.old ? (JSON.parse(c.old) as Row) : undefined;
          if (old && o.t.columns.some((col) => !(col in old))) throw new Error(`replication: entry ${c.seq} does not hold the whole old row; cannot undo it`);
          if (c.op === 'upsert' && !old) o.remove(row!); // an insert: remove the row
          else if (c.op === 'upsert') {
            if (o.t.key.some((k) => old![k] !== row![k])) o.remove(row!);
            o.upsert(old!); // an update: the old row back
          } else o.upsert(old!); // a delete: the row back
        }
        dropAfter.run(point.seq);
        setPosition.run(point.seq, point.epoch, point.at);
        return undo.length;
      });
    },
    /** A snapshot starts: forget everything replicated (position 0, so a restart asks again). */
    beginSnapshot(): void {
      applying(() => {
        for (const o of ops.values()) o.clear();
        clearLog.run();
        setPosition.run(0, 0, 0);
        setCopying.run(1);
      });
    },
    snapshotRows(tbl: string, rows: readonly Row[]): void {
      applying(() => {
        const o = table(tbl);
        for (const r of rows) o.upsert(r);
      });
    },
    /** The snapshot is complete at `point`: the log continues after it (a `mark` entry holds its place). */
    endSnapshot(point: LogPoint): void {
      applying(() => {
        copy.run(point.seq, point.epoch, point.at, '', 'mark', null, null);
        setPosition.run(point.seq, point.epoch, point.at);
        setCopying.run(0);
      });
    },
    tables(): string[] {
      return [...ops.keys()];
    },
  };
}
export type Applier = ReturnType<typeof createApplier>;

/**
 * Every row of every replicated table, in pages of at most `page` rows and about `pageBytes`
 * of JSON (a frame has a hard size cap; a rules version can be large), read in one
 * transaction together with the log head.
 */
export function readSnapshot(db: Db, head: () => LogPoint, page: number, emit: (tbl: string, rows: Row[]) => void, pageBytes = 1024 * 1024): LogPoint {
  return db.transaction(() => {
    const point = head();
    for (const t of replicatedTables(db)) {
      const stmt = db.prepare<[], Row>(`SELECT ${t.columns.map(q).join(', ')} FROM ${q(t.name)}`);
      let rows: Row[] = [];
      let bytes = 0;
      for (const r of stmt.iterate()) {
        const size = JSON.stringify(r).length;
        if (rows.length > 0 && (rows.length >= page || bytes + size > pageBytes)) {
          emit(t.name, rows);
          rows = [];
          bytes = 0;
        }
        rows.push(r);
        bytes += size;
      }
      if (rows.length > 0) emit(t.name, rows);
    }
    return point;
  })();
}

/**
 * readSnapshot without holding the copy in memory: a second, read-only connection keeps one
 * read transaction (WAL: a consistent view while the master goes on writing) across event-loop
 * turns, and `emit` may wait (for the socket to drain) between pages. `onPoint` learns the log
 * head the copy matches as soon as it is fixed. An in-memory database (tests) is read at once.
 */
export async function streamSnapshot(db: Db, page: number, pageBytes: number, onPoint: (p: LogPoint) => void, emit: (tbl: string, rows: Row[]) => Promise<void>): Promise<LogPoint> {
  const headSql = 'SELECT seq, epoch, at FROM repl_changes ORDER BY seq DESC LIMIT 1';
  if (db.memory) {
    const pages: [string, Row[]][] = [];
    const point = readSnapshot(db, () => db.prepare<[], LogPoint>(headSql).get() ?? { seq: 0, epoch: 0, at: 0 }, page, (t, rows) => void pages.push([t, rows]), pageBytes);
    onPoint(point);
    for (const [t, rows] of pages) await emit(t, rows);
    return point;
  }
  const ro = new Database(db.name, { readonly: true, fileMustExist: true });
  try {
    ro.pragma('busy_timeout = 5000');
    ro.exec('BEGIN');
    const point = ro.prepare<[], LogPoint>(headSql).get() ?? { seq: 0, epoch: 0, at: 0 }; // fixes the read snapshot
    onPoint(point);
    for (const t of replicatedTables(ro)) {
      let rows: Row[] = [];
      let bytes = 0;
      for (const r of ro.prepare<[], Row>(`SELECT ${t.columns.map(q).join(', ')} FROM ${q(t.name)}`).iterate()) {
        const size = JSON.stringify(r).length;
        if (rows.length > 0 && (rows.length >= page || bytes + size > pageBytes)) {
          await emit(t.name, rows);
          rows = [];
          bytes = 0;
        }
        rows.push(r);
        bytes += size;
      }
      if (rows.length > 0) await emit(t.name, rows);
    }
    ro.exec('COMMIT');
    return point;
  } finally {
    ro.close();
  }
}
