import type { Db } from '@moat/storage';

/** One entry of the replication log (a row of `repl_changes`). `mark` is a snapshot's end: no row change. */
export interface Change {
  readonly seq: number;
  readonly epoch: number;
  readonly at: number;
  readonly tbl: string;
  readonly op: 'upsert' | 'delete' | 'mark';
  /** The whole old row (updates, deletes). */
  readonly old: string | null;
  readonly row: string | null;
}

export interface ReplState {
  /** The highest epoch this master has seen (its own term's, when active). */
  readonly epoch: number;
  readonly appliedSeq: number;
  readonly appliedEpoch: number;
  readonly appliedAt: number;
  /** A snapshot is half applied: this master holds only part of the state. */
  readonly copying: boolean;
}

export interface LogPoint {
  readonly seq: number;
  readonly epoch: number;
  readonly at: number;
}

/** Reads and small writes on the replication log and `repl_state` (see migration 7). */
export function createChangeLog(db: Db) {
  const state = db.prepare<[], { epoch: number; applied_seq: number; applied_epoch: number; applied_at: number; copying: number }>('SELECT epoch, applied_seq, applied_epoch, applied_at, copying FROM repl_state WHERE id = 1');
  const raise = db.prepare<[number, number]>('UPDATE repl_state SET epoch = ? WHERE id = 1 AND epoch < ?');
  const head = db.prepare<[], LogPoint>('SELECT seq, epoch, at FROM repl_changes ORDER BY seq DESC LIMIT 1');
  const oldest = db.prepare<[], { seq: number }>('SELECT seq FROM repl_changes ORDER BY seq LIMIT 1');
  const at = db.prepare<[number], LogPoint>('SELECT seq, epoch, at FROM repl_changes WHERE seq = ?');
  const since = db.prepare<[number, number], Change>('SELECT seq, epoch, at, tbl, op, old, row FROM repl_changes WHERE seq > ? ORDER BY seq LIMIT ?');
  const prune = db.prepare<[number]>('DELETE FROM repl_changes WHERE seq < ?');
  const recent = db.prepare<[number], LogPoint>('SELECT seq, epoch, at FROM repl_changes ORDER BY seq DESC LIMIT ?');
  return {
    state(): ReplState {
      const s = state.get()!;
      return { epoch: s.epoch, appliedSeq: s.applied_seq, appliedEpoch: s.applied_epoch, appliedAt: s.applied_at, copying: s.copying === 1 };
    },
    /** Persist `epoch` if it is above the stored one; true when it was raised. */
    raiseEpoch(epoch: number): boolean {
      return raise.run(epoch, epoch).changes > 0;
    },
    /** The last entry of the log (seq 0 when empty). */
    head(): LogPoint {
      return head.get() ?? { seq: 0, epoch: 0, at: 0 };
    },
    /** The last `limit` entries' places, newest first: where a master that diverged may still match. */
    recent(limit: number): LogPoint[] {
      return recent.all(limit);
    },
    oldestSeq(): number {
      return oldest.get()?.seq ?? 0;
    },
    entry(seq: number): LogPoint | undefined {
      return at.get(seq);
    },
    since(seq: number, limit: number): Change[] {
      return since.all(seq, limit);
    },
    /** Drop entries below `seq` (a standby further behind than that gets a snapshot). */
    pruneBelow(seq: number): number {
      return prune.run(seq).changes;
    },
  };
}
export type ChangeLog = ReturnType<typeof createChangeLog>;

/**
 * Can a standby at `position` continue from this log by applying what follows it? Only when
 * this log holds the very entry it stopped at with the same epoch (then, as in Raft's log
 * matching, everything before it is the same history too), or it stopped at the log's head.
 * Anything else (a new standby, a diverged old master, a pruned gap) needs a snapshot.
 */
export function canContinue(log: ChangeLog, position: LogPoint): boolean {
  if (position.seq === 0) return false;
  const e = log.entry(position.seq);
  // The time too: two masters active at once without a witness may both have taken the same epoch.
  return e !== undefined && e.epoch === position.epoch && e.at === position.at;
}
