import { test } from 'node:test';
import assert from 'node:assert/strict';
import { audit, formatTable, type MasterFacts, type Window } from './audit.ts';
import type { Attempt } from './load.ts';

const W: Window[] = [{ label: 'baseline', fault: 'none', seconds: 3 }, { label: 'kill', fault: 'kill -9', seconds: 5, cutsSessions: true }];
const at = (n: number, window: string, outcome: Attempt['outcome'], extra: Partial<Attempt> = {}): Attempt =>
  ({ n, messageId: `<m${n}>`, window, quarantine: false, startedAt: 0, outcome, code: outcome === 'accepted' ? 250 : outcome === 'temp' ? 451 : undefined, response: outcome === 'temp' ? '451 4.3.0 try later' : 'x', ...extra });
const facts = (over: Partial<MasterFacts> = {}): MasterFacts => ({ logged: ['<m0>', '<m1>', '<m2>'], quarantined: ['<m2>'], events: [{ node: 's1', stored: 3, maxStored: 3, written: 3, pendingAtScanner: 0 }], ...over });

test('audit: a clean run, with a duplicate downstream, a quarantined message and an expected reset', () => {
  const attempts = [at(0, 'baseline', 'accepted'), at(1, 'kill', 'accepted'), at(2, 'kill', 'accepted', { quarantine: true }), at(3, 'kill', 'reset'), at(4, 'baseline', 'temp')];
  const r = audit(W, attempts, ['<m0>', '<m1>', '<m1>'], facts());
  assert.deepEqual(r.problems, []);
  assert.deepEqual([r.total.sent, r.total.accepted, r.total.temp, r.total.resets, r.total.delivered, r.total.duplicates, r.total.lost], [5, 3, 1, 1, 3, 1, 0]);
  assert.match(formatTable(r), /\| \*\*total\*\* \| 8\.0 \| 5 \| 3 \| 1 \| 0 \| 1 \| 0 \| 0 \| 3 \| 1 \| 0 \|/);
});

test('audit: a lost 250, a message twice on the master, a reset where nothing was killed, a missing event', () => {
  const attempts = [at(0, 'baseline', 'accepted'), at(1, 'baseline', 'accepted'), at(2, 'baseline', 'reset'), at(3, 'baseline', 'temp', { response: '451 try later' })];
  const r = audit(W, attempts, ['<m0>'], facts({ logged: ['<m0>', '<m1>', '<m1>'], quarantined: [], events: [{ node: 's1', stored: 2, maxStored: 2, written: 3, pendingAtScanner: 1 }] }));
  assert.equal(r.total.lost, 1);
  const has = (re: RegExp) => assert.ok(r.problems.some((p) => re.test(p)), `a problem matching ${re} in ${r.problems.join('\n')}`);
  has(/^lost: <m1>/);
  has(/^duplicated on the master: <m1>/);
  has(/^reset without a reply: <m2>/);
  has(/^refusal without an enhanced status code: <m3>/);
  has(/^s1: 1 events still in its outbox/);
  has(/^s1: the scanner wrote events 1\.\.3, the master stored 2/);
});
