import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluateMessage } from './evaluate.ts';
import type { AuthFacts } from './facts.ts';
import { compiled, facts } from './test-fixtures.ts';

const pass: AuthFacts = {
  spf: { result: 'pass', domain: 'sender.example' },
  dkim: { result: 'pass', domain: 'sender.example' },
  dmarc: { result: 'pass', domain: 'sender.example', policy: 'reject' },
  arc: { result: 'none' },
};
const c = compiled({ lists: { ipAllow: ['192.0.2.10'] } });

/** The facts (overrides of `pass`), then the action, the score, and each auth reason as `rule match`. */
const rows: [name: string, auth: Partial<AuthFacts>, action: string, score: number, reasons: string[]][] = [
  ['all pass: reasons, no score', {}, 'deliver', 0, ['auth.spf pass sender.example', 'auth.dkim pass sender.example', 'auth.dmarc pass sender.example']],
  ['SPF fail scores spfFail', { spf: { result: 'fail', domain: 'sender.example' } }, 'deliver', 3, ['auth.spf fail sender.example', 'auth.dkim pass sender.example', 'auth.dmarc pass sender.example']],
  ['SPF softfail', { spf: { result: 'softfail', domain: 'd.example' } }, 'deliver', 1, ['auth.spf softfail d.example', 'auth.dkim pass sender.example', 'auth.dmarc pass sender.example']],
  ['SPF permerror', { spf: { result: 'permerror', domain: 'd.example' } }, 'deliver', 0.5, ['auth.spf permerror d.example', 'auth.dkim pass sender.example', 'auth.dmarc pass sender.example']],
  ['SPF neutral and temperror score nothing', { spf: { result: 'temperror', domain: 'd.example' } }, 'deliver', 0, ['auth.spf temperror d.example', 'auth.dkim pass sender.example', 'auth.dmarc pass sender.example']],
  [
    'DMARC fail with p=reject quarantines',
    { spf: { result: 'fail', domain: 'sender.example' }, dkim: { result: 'fail', domain: 'sender.example' }, dmarc: { result: 'fail', domain: 'sender.example', policy: 'reject' } },
    'quarantine',
    6,
    ['auth.spf fail sender.example', 'auth.dkim fail sender.example', 'auth.dmarc fail sender.example p=reject'],
  ],
  ['DMARC fail with p=quarantine tags', { dmarc: { result: 'fail', domain: 'q.example', policy: 'quarantine' } }, 'tag', 2, ['auth.spf pass sender.example', 'auth.dkim pass sender.example', 'auth.dmarc fail q.example p=quarantine']],
  ['DMARC fail with p=none only scores', { dmarc: { result: 'fail', domain: 'n.example', policy: 'none' } }, 'deliver', 2, ['auth.spf pass sender.example', 'auth.dkim pass sender.example', 'auth.dmarc fail n.example']],
  ['ARC result is recorded with its sealer', { arc: { result: 'pass', sealer: 'lists.example' } }, 'deliver', 0, ['auth.spf pass sender.example', 'auth.dkim pass sender.example', 'auth.dmarc pass sender.example', 'auth.arc pass lists.example']],
  ['a broken ARC chain scores arcFail', { arc: { result: 'fail', sealer: 'lists.example' } }, 'deliver', 1, ['auth.spf pass sender.example', 'auth.dkim pass sender.example', 'auth.dmarc pass sender.example', 'auth.arc fail lists.example']],
  [
    'a DMARC failure with a passing ARC seal from an untrusted forwarder still quarantines',
    { dkim: { result: 'fail', domain: 'sender.example' }, dmarc: { result: 'fail', domain: 'sender.example', policy: 'reject' }, arc: { result: 'pass', sealer: 'stranger.example' } },
    'quarantine',
    3,
    ['auth.spf pass sender.example', 'auth.dkim fail sender.example', 'auth.dmarc fail sender.example p=reject', 'auth.arc pass stranger.example'],
  ],
];

describe('evaluateMessage: sender authentication', () => {
  for (const [name, auth, action, score, reasons] of rows) {
    it(name, () => {
      const v = evaluateMessage(c, facts({ auth: { ...pass, ...auth } }));
      assert.equal(v.action, action);
      assert.equal(v.score, score);
      assert.deepEqual(v.reasons.filter((r) => r.rule.startsWith('auth.')).map((r) => `${r.rule} ${r.match}`), reasons);
    });
  }
  it('the actions and scores come from `authentication`', () => {
    const strict = compiled({ authentication: { dmarcReject: 'reject', spfFail: 12 } });
    const v = evaluateMessage(strict, facts({ auth: { ...pass, spf: { result: 'fail', domain: 'x.example' }, dmarc: { result: 'fail', domain: 'x.example', policy: 'reject' } } }));
    assert.equal(v.action, 'reject');
    assert.equal(v.score, 14);
    assert.match(v.rejectText ?? '', /auth\.dmarc/);
  });
  it('a trusted forwarder\'s passing ARC seal vouches for mail whose DMARC it broke; a broken chain from it does not', () => {
    const trusting = compiled({ authentication: { arcTrustedSealers: ['*.lists.example', 'forwarder.example'] } });
    const broken = { ...pass, dkim: { result: 'fail', domain: 'sender.example' }, dmarc: { result: 'fail', domain: 'sender.example', policy: 'reject' } } as const;
    const vouched = evaluateMessage(trusting, facts({ auth: { ...broken, arc: { result: 'pass', sealer: 'eu.lists.example' } } }));
    assert.equal(vouched.action, 'deliver');
    assert.equal(vouched.score, 1, 'only the DKIM failure counts');
    assert.ok(vouched.reasons.some((r) => r.rule === 'auth.dmarc' && r.match === 'fail sender.example (ARC-sealed by trusted eu.lists.example)' && r.score === undefined));
    const chainBroken = evaluateMessage(trusting, facts({ auth: { ...broken, arc: { result: 'fail', sealer: 'forwarder.example' } } }));
    assert.equal(chainBroken.action, 'quarantine');
    assert.equal(chainBroken.score, 4);
  });
  it('an allow-listed client skips the authentication stage, but not a DMARC failure (issue 18)', () => {
    const v = evaluateMessage(c, facts({ clientIp: '192.0.2.10', auth: { ...pass, dmarc: { result: 'fail', domain: 'x.example', policy: 'reject' } } }));
    assert.equal(v.action, 'quarantine');
    assert.deepEqual(v.reasons.map((r) => r.rule), ['ipAllow', 'auth.dmarc.allowListed']);
    const fine = evaluateMessage(c, facts({ clientIp: '192.0.2.10', auth: { ...pass, spf: { result: 'fail', domain: 'x.example' } } }));
    assert.equal(fine.action, 'deliver');
    assert.deepEqual(fine.reasons.map((r) => r.kind), ['ip-list'], 'the rest of the stage is skipped');
  });
  it('no auth facts, no auth reasons', () => {
    assert.deepEqual(evaluateMessage(c, facts()).reasons, []);
  });
});

// Security review (issue 18): an allow entry (an admin's or an end user's own list) let a message
// whose From fails DMARC through unmarked, so a forged From passed on the recipient's own list.
describe('evaluateMessage: an allow-list hit never lets a DMARC failure through unmarked', () => {
  const lists = compiled({
    lists: { senderAllow: ['friend@sender.example'], recipientAllow: ['vip@example.test'], ipAllow: ['192.0.2.10'] },
    recipientLists: { 'user@example.test': { allow: ['boss@sender.example'], block: [] } },
    authentication: { arcTrustedSealers: ['forwarder.example'] },
  });
  const failing = (policy: 'reject' | 'quarantine' | 'none' | '') => ({ ...pass, dmarc: { result: 'fail' as const, domain: 'sender.example', policy } });
  const rows: [name: string, over: Parameters<typeof facts>[0], action: string][] = [
    ["the admin's senderAllow, p=reject: quarantined", { mailFrom: 'friend@sender.example', auth: failing('reject') }, 'quarantine'],
    ["an end user's own allow list, p=reject: quarantined", { mailFrom: 'boss@sender.example', rcptTo: ['user@example.test'], auth: failing('reject') }, 'quarantine'],
    ["an end user's own allow list, p=quarantine: tagged", { mailFrom: 'boss@sender.example', rcptTo: ['user@example.test'], auth: failing('quarantine') }, 'tag'],
    ['recipientAllow, p=none: tagged', { rcptTo: ['vip@example.test'], auth: failing('none') }, 'tag'],
    ['ipAllow, no policy published: tagged', { clientIp: '192.0.2.10', auth: failing('') }, 'tag'],
    ['allow-listed and DMARC passes: delivered', { mailFrom: 'friend@sender.example', auth: pass }, 'deliver'],
    ['allow-listed, DMARC broken by a trusted ARC sealer: delivered', { mailFrom: 'friend@sender.example', auth: { ...failing('reject'), arc: { result: 'pass', sealer: 'forwarder.example' } } }, 'deliver'],
  ];
  for (const [name, over, action] of rows) {
    it(name, () => {
      const v = evaluateMessage(lists, facts(over));
      assert.equal(v.allowed, true, 'still allow-listed (content checks skipped)');
      assert.equal(v.action, action);
      assert.equal(v.reasons.some((r) => r.rule === 'auth.dmarc.allowListed'), action !== 'deliver');
    });
  }
  it('a configured dmarcReject: reject is capped at quarantine for allow-listed mail (a wanted message can be released)', () => {
    const strict = compiled({ lists: { senderAllow: ['friend@sender.example'] }, authentication: { dmarcReject: 'reject' } });
    assert.equal(evaluateMessage(strict, facts({ mailFrom: 'friend@sender.example', auth: failing('reject') })).action, 'quarantine');
  });
});
