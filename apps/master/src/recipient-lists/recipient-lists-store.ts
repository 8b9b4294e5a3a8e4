import type { Db } from '@moat/storage';
import type { RecipientList, RecipientLists } from '@moat/rules';

/**
 * The end users' own allow and block lists (migration 17), apart from the rules: the entries as
 * they are now, and a version stream of their own, one version per change. An end user's click
 * is a version here, never a rules version, so an admin's rules save neither conflicts with it
 * nor undoes it, and rules pushes do not carry it.
 */
export type ListName = 'allow' | 'block';
export type ListOp = 'add' | 'remove';

export interface ListChange {
  readonly recipient: string;
  readonly list: ListName;
  readonly op: ListOp;
  readonly pattern: string;
}

export interface ListVersion {
  readonly version: number;
  readonly createdAt: number;
  readonly createdBy: string;
  readonly comment: string;
  /** The change this version made; absent for the version migration 17 made from the rules. */
  readonly change?: ListChange;
}

interface EntryRow {
  recipient: string;
  list: ListName;
  pattern: string;
}

interface VersionRow {
  version: number;
  created_at: number;
  created_by: string;
  comment: string;
  recipient: string | null;
  list: ListName | null;
  op: ListOp | null;
  pattern: string | null;
}

/** The current end-user lists version: 0 before any list was made. */
export function currentListsVersion(db: Db): number {
  return db.prepare<[], { v: number | null }>('SELECT max(version) AS v FROM recipient_list_versions').get()?.v ?? 0;
}

/** Every recipient's lists, as pushed to the scanners (recipients without entries are absent). */
export function allRecipientLists(db: Db): RecipientLists {
  const rows = db.prepare<[], EntryRow>('SELECT recipient, list, pattern FROM recipient_list_entries ORDER BY recipient, version, pattern').all();
  const lists: Record<string, RecipientList> = {};
  for (const r of rows) (lists[r.recipient] ??= { allow: [], block: [] })[r.list].push(r.pattern);
  return lists;
}

/** One recipient's lists (empty lists when it has none). */
export function recipientListsOf(db: Db, recipient: string): RecipientList {
  const rows = db.prepare<[string], EntryRow>('SELECT recipient, list, pattern FROM recipient_list_entries WHERE recipient = ? ORDER BY version, pattern').all(recipient);
  const lists: RecipientList = { allow: [], block: [] };
  for (const r of rows) lists[r.list].push(r.pattern);
  return lists;
}

/**
 * Store one change as version current + 1 and apply it to the entries: an add takes the
 * pattern off the recipient's other list (a sender sits on one list only), a remove deletes
 * it. The caller has checked the change makes a difference and runs this in its transaction.
 */
export function recordListChange(db: Db, change: ListChange, by: string, comment: string, at: number): number {
  const version = currentListsVersion(db) + 1;
  db.prepare('INSERT INTO recipient_list_versions (version, created_at, created_by, comment, recipient, list, op, pattern) VALUES (?, ?, ?, ?, ?, ?, ?, ?)').run(
    version, at, by, comment, change.recipient, change.list, change.op, change.pattern,
  );
  db.prepare('DELETE FROM recipient_list_entries WHERE recipient = ? AND pattern = ?').run(change.recipient, change.pattern);
  if (change.op === 'add') {
    db.prepare('INSERT INTO recipient_list_entries (recipient, list, pattern, version) VALUES (?, ?, ?, ?)').run(change.recipient, change.list, change.pattern, version);
  }
  return version;
}

/** History, newest first; `before` pages backwards. */
export function listVersions(db: Db, limit: number, before?: number): ListVersion[] {
  return db
    .prepare<[number, number], VersionRow>('SELECT * FROM recipient_list_versions WHERE version < ? ORDER BY version DESC LIMIT ?')
    .all(before ?? Number.MAX_SAFE_INTEGER, limit)
    .map((r) => ({
      version: r.version,
      createdAt: r.created_at,
      createdBy: r.created_by,
      comment: r.comment,
      ...(r.recipient !== null && r.list !== null && r.op !== null && r.pattern !== null ? { change: { recipient: r.recipient, list: r.list, op: r.op, pattern: r.pattern } } : {}),
    }));
}

/** How long a version row stays, and how many of the newest always stay. */
export const LIST_VERSIONS_KEPT_MS = 24 * 3600_000;
export const RECENT_LIST_VERSIONS_KEPT = 50;

/**
 * A version is one small row, but one per click would still grow without bound. Pruned: rows
 * older than a day and below the newest RECENT_LIST_VERSIONS_KEPT. Kept: the current version
 * (the number the scanners compare), the entries themselves (the lists are whole), and the
 * audit log, whose entries name each change's recipient, list, operation, pattern and version
 * on their own. Returns how many rows went.
 */
export function pruneListVersions(db: Db, now: number): number {
  return db
    .prepare(
      `DELETE FROM recipient_list_versions WHERE created_at < ?
         AND version < (SELECT min(version) FROM (SELECT version FROM recipient_list_versions ORDER BY version DESC LIMIT ?) AS recent)`,
    )
    .run(now - LIST_VERSIONS_KEPT_MS, RECENT_LIST_VERSIONS_KEPT).changes;
}
