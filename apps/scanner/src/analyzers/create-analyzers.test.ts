import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, validateDocument } from '@moat/config';
import { DETECTION_MODEL, engineSignals } from '@moat/rules';
import { ScannerConfigSchema } from '../config.ts';
import { createAnalyzers } from './create-analyzers.ts';

const base = { node: { name: 'n1' }, dataDir: '/tmp/x', rules: { file: '/tmp/rules.yaml' } };
const both = { rspamd: { url: 'http://127.0.0.1:11333' }, spamassassin: { host: '127.0.0.1', port: 783 } };
const spamassassinOf = (analyzers: unknown) => {
  const config = validateDocument(ScannerConfigSchema, { ...base, analyzers }, 'scanner.yaml');
  return createAnalyzers(config).find((a) => a.name === 'spamassassin')!;
};

describe('createAnalyzers: SpamAssassin after Rspamd', () => {
  it('by default, with Rspamd configured, SpamAssassin runs after it and is skipped when Rspamd is sure of good mail', () => {
    const sa = spamassassinOf(both);
    assert.equal(sa.after?.analyzer, 'rspamd');
    const { bayesAtMost, rulesAtMost } = DETECTION_MODEL.settledByRspamd;
    const sure = engineSignals('rspamd', bayesAtMost + rulesAtMost, [{ name: 'BAYES_HAM', score: bayesAtMost }, { name: 'R', score: rulesAtMost }]);
    assert.match(sa.after!.skipWhen({ signals: sure }) ?? '', /^settled by Rspamd: /);
    const unsure = engineSignals('rspamd', rulesAtMost + 1, [{ name: 'R', score: rulesAtMost + 1 }]);
    assert.equal(sa.after!.skipWhen({ signals: unsure }), undefined, 'no Bayes vote: ask SpamAssassin');
    assert.equal(sa.after!.skipWhen({}), undefined, 'no signals: ask SpamAssassin');
  });
  it('skipWhenRspamdSure: false, or no Rspamd: side by side, never skipped', () => {
    assert.equal(spamassassinOf({ ...both, spamassassin: { ...both.spamassassin, skipWhenRspamdSure: false } }).after, undefined);
    assert.equal(spamassassinOf({ spamassassin: both.spamassassin }).after, undefined);
  });
  it('a setting that is not a boolean is refused naming the key', () => {
    assert.throws(() => spamassassinOf({ ...both, spamassassin: { ...both.spamassassin, skipWhenRspamdSure: 'yes' } }), (err: unknown) => err instanceof ConfigError && err.errors.some((e) => e.key === 'analyzers.spamassassin.skipWhenRspamdSure'));
  });
});
