import { test } from 'node:test';
import assert from 'node:assert/strict';
import { quarantineExpiresAt, quarantineKind } from './quarantine-lifetime.ts';

const R = (kind: string, rule: string, action?: string) => ({ kind, rule, ...(action ? { action } : {}) }) as never;

test('the kind of held mail: virus wins, then policy, else spam', () => {
  assert.equal(quarantineKind([R('score', 'score', 'quarantine'), R('virus', 'clamav', 'reject')]), 'virus');
  assert.equal(quarantineKind([R('score', 'score', 'quarantine')]), 'spam');
  assert.equal(quarantineKind([R('analyzer', 'rspamd', 'quarantine')]), 'spam');
  assert.equal(quarantineKind([R('attachment', 'attachments.blockedExtensions', 'quarantine')]), 'policy');
  assert.equal(quarantineKind([R('content', 'quarantine-me', 'quarantine'), R('score', 'score')]), 'policy');
  assert.equal(quarantineKind([R('analyzer', 'clamav.macros', 'quarantine')]), 'policy');
  assert.equal(quarantineKind([]), 'spam');
});

test('expiry: arrival plus the kind\'s days', () => {
  const settings = { days: { spam: 10, virus: 2, policy: 30 }, maxBytes: 1 };
  assert.equal(quarantineExpiresAt(settings, 1000, [R('virus', 'clamav', 'reject')]), 1000 + 2 * 86_400_000);
  assert.equal(quarantineExpiresAt(settings, 1000, [R('score', 'score', 'quarantine')]), 1000 + 10 * 86_400_000);
});
