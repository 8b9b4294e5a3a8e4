import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import type { Analyzer, Findings } from './analyzer.ts';
import { runAnalyzers } from './run-analyzers.ts';

const input = { clientIp: '192.0.2.1', helo: 'h.test', mailFrom: 'a@b.test', rcptTo: ['c@d.test'], spoolFile: '/nonexistent', size: 10 };
const log = pino({ level: 'silent' });

function analyzer(name: string, policy: 'temp-fail' | 'pass', run: (signal: AbortSignal) => Promise<Findings>, timeoutMs = 1000): Analyzer {
  return { name, timeoutMs, fallback: { policy, headers: [`X-${name}: unavailable`] }, run: (_i, signal) => run(signal) };
}

describe('runAnalyzers', () => {
  it('merges findings in analyzer order', async () => {
    const out = await runAnalyzers(
      [
        analyzer('a', 'pass', async () => ({ virus: { name: 'V', action: 'reject' }, headers: ['X-A: 1'] })),
        analyzer('b', 'pass', async () => ({ extraScores: [{ id: 'b.x', score: 2, detail: 'd' }], headers: ['X-B: 1'], hold: { rule: 'b.hold', detail: 'why' } })),
      ],
      input,
      log,
    );
    assert.deepEqual(out.virus, { name: 'V', action: 'reject' });
    assert.deepEqual(out.extraScores, [{ id: 'b.x', score: 2, detail: 'd' }]);
    assert.deepEqual(out.headers, ['X-A: 1', 'X-B: 1']);
    assert.deepEqual(out.holds, [{ rule: 'b.hold', detail: 'why' }]);
    assert.equal(out.tempFail, undefined);
  });
  it('a failing `pass` analyzer adds its headers and an `<name>.unavailable` reason', async () => {
    const out = await runAnalyzers([analyzer('p', 'pass', async () => { throw new Error('down'); })], input, log);
    assert.equal(out.tempFail, undefined);
    assert.deepEqual(out.headers, ['X-p: unavailable']);
    assert.deepEqual(out.extraScores, [{ id: 'p.unavailable', score: 0, detail: 'down' }]);
  });
  it('a `temp-fail` analyzer past its time-out: aborted, and the outcome asks for 451', async () => {
    let aborted = false;
    const hang = analyzer('t', 'temp-fail', (signal) => new Promise<Findings>(() => signal.addEventListener('abort', () => (aborted = true))), 50);
    const started = Date.now();
    const out = await runAnalyzers([hang, analyzer('ok', 'pass', async () => ({}))], input, log);
    assert.ok(Date.now() - started < 1000);
    assert.ok(aborted, 'its signal was aborted');
    assert.deepEqual(out.tempFail, { analyzer: 't', detail: 'no answer within 50 ms' });
  });
  describe('an analyzer that runs after another', () => {
    const later = (ran: string[], skipWhen: (earlier: Findings) => string | undefined): Analyzer => ({
      ...analyzer('late', 'pass', async () => {
        ran.push('late');
        return { extraScores: [{ id: 'late', score: 1, detail: 'ran' }] };
      }),
      after: { analyzer: 'early', skipWhen },
    });
    const early = (ran: string[], findings: () => Promise<Findings>) => analyzer('early', 'pass', async () => {
      const f = await findings();
      ran.push('early');
      return f;
    });

    it('starts once the earlier one answered, and runs when its answer settles nothing', async () => {
      const ran: string[] = [];
      let seen: Findings | undefined;
      const out = await runAnalyzers([early(ran, async () => ({ signals: [{ id: 'rspamd', raw: 2, hits: [] }] })), later(ran, (f) => ((seen = f), undefined))], input, log);
      assert.deepEqual(ran, ['early', 'late']);
      assert.deepEqual(seen, { signals: [{ id: 'rspamd', raw: 2, hits: [] }] });
      assert.deepEqual(out.extraScores, [{ id: 'late', score: 1, detail: 'ran' }]);
    });
    it('is skipped when the earlier answer settles the message: a `<name>.skipped` reason with why, no headers', async () => {
      const ran: string[] = [];
      const out = await runAnalyzers([early(ran, async () => ({})), later(ran, () => 'settled by early')], input, log);
      assert.deepEqual(ran, ['early']);
      assert.deepEqual(out.extraScores, [{ id: 'late.skipped', score: 0, detail: 'settled by early' }]);
      assert.deepEqual(out.headers, []);
      assert.equal(out.tempFail, undefined);
    });
    it('runs when the earlier one failed, when it is not configured, or when the rule throws', async () => {
      for (const list of [
        (ran: string[]) => [early(ran, async () => { throw new Error('down'); }), later(ran, () => 'settled')],
        (ran: string[]) => [later(ran, () => 'settled')],
        (ran: string[]) => [early(ran, async () => ({})), later(ran, () => { throw new Error('cannot read'); })],
      ]) {
        const ran: string[] = [];
        const out = await runAnalyzers(list(ran), input, log);
        assert.ok(ran.includes('late'), 'the later analyzer ran');
        assert.ok(out.extraScores.some((s) => s.id === 'late'));
      }
    });
  });
});
