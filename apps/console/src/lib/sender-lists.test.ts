import { test } from 'node:test';
import assert from 'node:assert/strict';
import { putSender } from './sender-lists.ts';

test('a sender goes into the list once, lower-cased, and out of the other list', () => {
  const doc = { version: 3, lists: { senderAllow: ['friend@x.test'], senderBlock: ['Spammer@Y.test', '*@bad.test'], ipBlock: ['192.0.2.1'] } };
  const allowed = putSender(doc, 'senderAllow', ' Spammer@y.TEST ');
  assert.equal(allowed.changed, true);
  assert.equal(allowed.entry, 'spammer@y.test');
  assert.deepEqual(allowed.doc.lists, { senderAllow: ['friend@x.test', 'spammer@y.test'], senderBlock: ['*@bad.test'], ipBlock: ['192.0.2.1'] });
  assert.deepEqual(doc.lists.senderBlock, ['Spammer@Y.test', '*@bad.test'], 'the input is not changed');
  const again = putSender(allowed.doc, 'senderAllow', 'SPAMMER@y.test');
  assert.equal(again.changed, false);
  assert.equal(again.doc, allowed.doc);
});

test('a document without lists gets them', () => {
  const blocked = putSender({ version: 1 }, 'senderBlock', 'a@b.test');
  assert.deepEqual(blocked.doc, { version: 1, lists: { senderBlock: ['a@b.test'], senderAllow: [] } });
});
