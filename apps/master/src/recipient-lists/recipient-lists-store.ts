import type { Kysely } from 'kysely';
import type { RecipientList, RecipientLists } from '@moat/rules';
import type { MasterSchema } from '../db/schema.ts';

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

type Db = Kysely<MasterSchema>;

/** The current end-user lists version: 0 before any list was made. */
export async function currentListsVersion(db: Db): Promise<number> {
  const row = await db.selectFrom('recipient_list_versions').select((eb) => eb.fn.max('version').as('v')).executeTakeFirst();
  return row?.v ?? 0;
}

/** Every recipient's lists, as pushed to the scanners (recipients without entries are absent). */
export async function allRecipientLists(db: Db): Promise<RecipientLists> {
  const rows = await db.selectFrom('recipient_list_entries').select(['recipient', 'list', 'pattern']).orderBy('recipient').orderBy('version').orderBy('pattern').execute();
  const lists: Record<string, RecipientList> = {};
  for (const r of rows) (lists[r.recipient] ??= { allow: [], block: [] })[r.list].push(r.pattern);
  return lists;
}

/** One recipient's lists (empty lists when it has none). */
export async function recipientListsOf(db: Db, recipient: string): Promise<RecipientList> {
  const rows = await db.selectFrom('recipient_list_entries').select(['list', 'pattern']).where('recipient', '=', recipient).orderBy('version').orderBy('pattern').execute();
  const lists: RecipientList = { allow: [], block: [] };
  for (const r of rows) lists[r.list].push(r.pattern);
  return lists;
}

/**
 * Store one change as version current + 1 and apply it to the entries: an add takes the
 * pattern off the recipient's other list (a sender sits on one list only), a remove deletes
 * it. The caller has checked the change makes a difference and runs this in its transaction.
 * Two masters recording at once cannot both make one version: the version is the primary
 * key, so the later insert is a unique violation and its transaction stores nothing.
 */
export async function recordListChange(db: Db, change: ListChange, by: string, comment: string, at: number): Promise<number> {
  const version = (await currentListsVersion(db)) + 1;
  await db.insertInto('recipient_list_versions').values({ version, created_at: at, created_by: by, comment, recipient: change.recipient, list: change.list, op: change.op, pattern: change.pattern }).execute();
  await db.deleteFrom('recipient_list_entries').where('recipient', '=', change.recipient).where('pattern', '=', change.pattern).execute();
  if (change.op === 'add') {
    await db.insertInto('recipient_list_entries').values({ recipient: change.recipient, list: change.list, pattern: change.pattern, version }).execute();
  }
  return version;
}

/** History, newest first; `before` pages backwards. */
export async function listVersions(db: Db, limit: number, before?: number): Promise<ListVersion[]> {
  const rows = await db
    .selectFrom('recipient_list_versions')
    .selectAll()
    .where('version', '<', before ?? Number.MAX_SAFE_INTEGER)
    .orderBy('version', 'desc')
    .limit(limit)
    .execute();
  return rows.map((r) => ({
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
export async function pruneListVersions(db: Db, now: number): Promise<number> {
  const result = await db
    .deleteFrom('recipient_list_versions')
    .where('created_at', '<', now - LIST_VERSIONS_KEPT_MS)
    .where('version', '<', (eb) =>
      eb.selectFrom((sub) => sub.selectFrom('recipient_list_versions').select('version').orderBy('version', 'desc').limit(RECENT_LIST_VERSIONS_KEPT).as('recent')).select((e) => e.fn.min('version').as('v')),
    )
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
