import type { Db } from '@moat/storage';
import { decideGreylist, type GreylistDecision, type GreylistEntry, type GreylistTimes, type GreylistTriplet } from '@moat/rules';

interface Row {
  first_seen: number;
  passed_at: number | null;
  expires_at: number;
}

/**
 * The cluster's greylist on the master: every scanner's attempts of a triplet meet here, so a
 * retry that lands on another scanner is recognised. One transaction per check (read, decide
 * with the pure state machine, write), so two scanners asking at once cannot both create it.
 */
export interface GreylistStore {
  /** Record an attempt of `t` at `now` and decide it. */
  check(t: GreylistTriplet, times: GreylistTimes, now: number): GreylistDecision;
  /** Forget expired triplets; returns how many went. */
  sweep(now: number): number;
  count(): number;
}

export function createGreylistStore(db: Db): GreylistStore {
  const get = db.prepare<[string, string, string], Row>('SELECT first_seen, passed_at, expires_at FROM greylist WHERE network = ? AND sender = ? AND recipient = ?');
  const upsert = db.prepare(`
    INSERT INTO greylist (network, sender, recipient, first_seen, passed_at, expires_at)
    VALUES (@network, @sender, @recipient, @firstSeen, @passedAt, @expiresAt)
    ON CONFLICT (network, sender, recipient) DO UPDATE SET
      first_seen = excluded.first_seen, passed_at = excluded.passed_at, expires_at = excluded.expires_at`);
  const sweep = db.prepare<[number]>('DELETE FROM greylist WHERE expires_at <= ?');
  const count = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM greylist');

  const check = db.transaction((t: GreylistTriplet, times: GreylistTimes, now: number): GreylistDecision => {
    const row = get.get(t.network, t.sender, t.recipient);
    const entry: GreylistEntry | undefined = row ? { firstSeen: row.first_seen, passedAt: row.passed_at, expiresAt: row.expires_at } : undefined;
    const decision = decideGreylist(times, entry, now);
    if (decision.entry !== entry) upsert.run({ ...t, ...decision.entry });
    return decision;
  });

  return {
    check: (t, times, now) => check(t, times, now),
    sweep(now: number): number {
      return sweep.run(now).changes;
    },
    count(): number {
      return count.get()!.n;
    },
  };
}
