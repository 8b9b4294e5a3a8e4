import type { Logger } from 'pino';
import type { Kysely } from 'kysely';
import { MAX_RECIPIENT_LIST_ENTRIES, RECIPIENT_LIST_DOMAIN, RECIPIENT_LIST_ENTRY_PATTERN, validateRecipientLists } from '@moat/rules';
import type { ClusterControl } from '../app-deps.ts';
import { createAuditLog } from '../audit/audit-log.ts';
import type { MasterSchema } from '../db/schema.ts';
import { pruneEndUserVersions } from '../rules/rules-repository.ts';
import { pruneListVersions, recipientListsOf, recordListChange, type ListName, type ListOp } from './recipient-lists-store.ts';

export interface ListChangeDeps {
  readonly db: Kysely<MasterSchema>;
  readonly now: () => number;
  readonly log: Logger;
  readonly cluster: ClusterControl;
}

const DOMAIN = new RegExp(`^${RECIPIENT_LIST_DOMAIN}$`);
const RECIPIENT_LIST_ENTRY = new RegExp(RECIPIENT_LIST_ENTRY_PATTERN);

/**
 * Change one recipient's own allow or block list: a new end-user lists version (never a rules
 * version), audited as the end user in the same transaction, then pushed to every scanner
 * (`recipient-lists.push`). A pattern moves between lists rather than sitting on both.
 * Returns the new version, or undefined when nothing changes (already there / not there).
 * Throws RangeError naming `pattern` for anything but an address or a whole domain, and for a
 * full list; ConfigError for an entry (or recipient) the scanners' validation refuses.
 */
export async function changeRecipientList(deps: ListChangeDeps, recipient: string, change: { readonly op: ListOp; readonly list: ListName; readonly pattern: string }, ip: string): Promise<number | undefined> {
  const typed = change.pattern.trim().toLowerCase();
  // A bare domain means the whole domain.
  const pattern = !typed.includes('@') && DOMAIN.test(typed) ? `*@${typed}` : typed;
  // A pattern such as `*e*` would switch the filtering off (allow) or most mail off (block) for this person.
  if (change.op === 'add' && !RECIPIENT_LIST_ENTRY.test(pattern)) throw new RangeError('pattern: only an address (name@example.com) or a whole domain (*@example.com or example.com), no other wildcards');
  // The scanners' own gate for these lists (throws ConfigError naming the entry): nothing is stored that they would refuse.
  if (change.op === 'add') validateRecipientLists({ [recipient]: { [change.list]: [pattern] } }, 'pattern');
  const { db, now, log, cluster } = deps;
  const version = await db.transaction().execute(async (trx) => {
    const before = await recipientListsOf(trx, recipient);
    if (change.op === 'add') {
      if (before[change.list].includes(pattern)) return undefined;
      if (before[change.list].length >= MAX_RECIPIENT_LIST_ENTRIES) throw new RangeError(`the ${change.list} list holds at most ${MAX_RECIPIENT_LIST_ENTRIES} entries`);
    } else if (!before[change.list].includes(pattern)) {
      return undefined;
    }
    const comment = `${recipient}: ${change.op} ${pattern} ${change.op === 'add' ? 'to' : 'from'} the ${change.list} list`;
    const by = `enduser:${recipient}`;
    const made = await recordListChange(trx, { recipient, list: change.list, op: change.op, pattern }, by, comment, now());
    await createAuditLog(trx, now).audit({ username: by, via: 'enduser' }, ip, 'rules.recipient-lists', `recipient-lists:${made}`, { listsVersion: made, recipient, list: change.list, op: change.op, pattern });
    return made;
  });
  if (version === undefined) return undefined;
  log.info({ event: 'RECIPIENT_LISTS_CHANGED', version, op: change.op, list: change.list }, 'end-user lists version stored');
  try {
    await pruneListVersions(db, now());
    // Rules versions end users made before migration 17 go the same way as before.
    await pruneEndUserVersions(db, now());
  } catch (err) {
    log.error({ event: 'RECIPIENT_LISTS_PRUNE_FAILED', err }, 'could not prune old list versions; tried again at the next change');
  }
  try {
    cluster.recipientListsChanged();
  } catch (err) {
    // The version is stored; scanners also receive it when they next connect.
    log.error({ event: 'RECIPIENT_LISTS_PUSH_ERROR', version, err }, 'could not push the new end-user lists version');
  }
  return version;
}
