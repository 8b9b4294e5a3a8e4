import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideVote, type WitnessState } from './witness.ts';

const LEASE = 1000;
const empty: WitnessState = { epoch: 0, holder: null, leaseUntil: 0 };

test('the witness grants each epoch to one master, never goes back, and waits out a lease', () => {
  const cases: Array<{ what: string; state: WitnessState; req: { candidate: string; epoch: number }; now: number; granted: boolean }> = [
    { what: 'first vote', state: empty, req: { candidate: 'a', epoch: 1 }, now: 0, granted: true },
    { what: 'the same epoch to another master', state: { epoch: 1, holder: 'a', leaseUntil: 1000 }, req: { candidate: 'b', epoch: 1 }, now: 2000, granted: false },
    { what: 'a higher epoch while the lease runs', state: { epoch: 1, holder: 'a', leaseUntil: 1000 }, req: { candidate: 'b', epoch: 2 }, now: 500, granted: false },
    { what: 'a higher epoch once the lease ran out', state: { epoch: 1, holder: 'a', leaseUntil: 1000 }, req: { candidate: 'b', epoch: 2 }, now: 1000, granted: true },
    { what: 'a lower epoch', state: { epoch: 3, holder: 'a', leaseUntil: 0 }, req: { candidate: 'b', epoch: 2 }, now: 5000, granted: false },
    { what: 'the holder renews', state: { epoch: 3, holder: 'a', leaseUntil: 100 }, req: { candidate: 'a', epoch: 3 }, now: 50, granted: true },
    { what: 'the holder, restarted, claims a higher epoch', state: { epoch: 3, holder: 'a', leaseUntil: 900 }, req: { candidate: 'a', epoch: 4 }, now: 50, granted: true },
    { what: 'the old holder renews a lower epoch', state: { epoch: 4, holder: 'b', leaseUntil: 900 }, req: { candidate: 'a', epoch: 3 }, now: 50, granted: false },
  ];
  for (const c of cases) {
    const d = decideVote(c.state, c.req, c.now, LEASE);
    assert.equal(d.answer.granted, c.granted, c.what);
    if (c.granted) assert.deepEqual(d.state, { epoch: c.req.epoch, holder: c.req.candidate, leaseUntil: c.now + LEASE }, c.what);
    else assert.deepEqual(d.state, c.state, `${c.what}: nothing changes`);
  }
});
