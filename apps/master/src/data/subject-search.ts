import type { Db } from '@moat/storage';
import type { Where } from './search-filters.ts';
import { containsPattern, ftsPhrase } from './sql-like.ts';

/**
 * Subject search, for the message log and the quarantine alike. Each has an FTS5 trigram
 * index of its subjects (rowid = the row's rid), which finds a substring anywhere in millions
 * of subjects in milliseconds, case-insensitively (Unicode case folding), for terms of three
 * characters or more.
 *
 * Two ways to use it. `index`: the trigram index lists the matching rows, which are then sorted
 * by time: fast while they are few, slow for a word in every tenth subject (every match is
 * fetched and sorted to show 50). `scan`: walk the time index newest first testing LIKE and
 * stop at a page: fast when matches are common, slow when rare. `subjectStrategy` picks by
 * counting matches up to FTS_LIST_CAP (a capped, cheap index read). Terms under three
 * characters can only scan; non-ASCII terms always use the index (LIKE folds only ASCII case).
 */
export type SubjectStrategy = 'index' | 'scan';

export const FTS_MIN_CHARS = 3;
export const FTS_LIST_CAP = 2000;

export function subjectStrategy(db: Db, ftsTable: string, subject: string): SubjectStrategy {
  if ([...subject].length < FTS_MIN_CHARS) return 'scan';
  if (/[^\x00-\x7f]/.test(subject)) return 'index';
  const n = db.prepare<[string], number>(`SELECT COUNT(*) FROM (SELECT 1 FROM ${ftsTable} WHERE ${ftsTable} MATCH ? LIMIT ${FTS_LIST_CAP})`).pluck().get(ftsPhrase(subject));
  return (n ?? 0) < FTS_LIST_CAP ? 'index' : 'scan';
}

/** Add the subject condition; true when it uses the trigram index (which then drives the query). */
export function addSubjectCondition(where: Where, alias: string, ftsTable: string, subject: string, strategy: SubjectStrategy): boolean {
  if (strategy === 'index' && [...subject].length >= FTS_MIN_CHARS) {
    where.add(`${alias}.rid IN (SELECT rowid FROM ${ftsTable} WHERE ${ftsTable} MATCH ?)`, ftsPhrase(subject));
    return true;
  }
  where.add(`${alias}.subject LIKE ? ESCAPE '\\'`, containsPattern(subject));
  return false;
}
