import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getIn, linesToList, listToLines, nodeNames, numberValue, pathOf, problemsAt, setIn, unclaimed } from './rules-form-model.ts';

const doc = {
  acceptedDomains: ['example.test'],
  lists: { ipBlock: ['192.0.2.1', '999.1.1.1'], senderBlock: [] },
  content: [{ id: 'a', target: 'subject', contains: 'x' }],
  retention: { days: 7 },
};

test('setIn replaces one field and keeps every other key, including ones the form does not know', () => {
  const next = setIn(doc, pathOf('lists.senderBlock'), ['*@spam.example']);
  assert.deepEqual(next.lists.senderBlock, ['*@spam.example']);
  assert.deepEqual(next.lists.ipBlock, doc.lists.ipBlock);
  assert.equal(next.retention, doc.retention, 'unknown sections are shared, untouched');
  assert.deepEqual(doc.lists.senderBlock, [], 'the original is not changed');
});

test('setIn creates the objects on the way, edits array items and removes keys with undefined', () => {
  const withNode = setIn(doc as Record<string, unknown>, ['nodes', 'scanner-1', 'maintenance'], true);
  assert.deepEqual(withNode.nodes, { 'scanner-1': { maintenance: true } });
  const edited = setIn(doc, ['content', 0, 'score'], 3);
  assert.deepEqual(edited.content[0], { id: 'a', target: 'subject', contains: 'x', score: 3 });
  assert.equal(Array.isArray(edited.content), true);
  const removed = setIn(doc, ['content', 0, 'contains'], undefined);
  assert.equal('contains' in removed.content[0]!, false);
  assert.deepEqual(setIn(doc, ['content', 0], undefined).content, [], 'undefined removes an array item');
});

test('getIn follows a dotted path and answers undefined past the end', () => {
  assert.equal(getIn(doc, pathOf('lists.ipBlock.1')), '999.1.1.1');
  assert.equal(getIn(doc, pathOf('lists.nothing.here')), undefined);
  assert.equal(getIn(doc, pathOf('acceptedDomains.0.length')), undefined, 'no walking into strings');
});

test('list fields: one entry per line, commas too, blanks dropped', () => {
  assert.deepEqual(linesToList(' a.example \n\n b.example, c.example ,'), ['a.example', 'b.example', 'c.example']);
  assert.equal(listToLines(['a', 'b']), 'a\nb');
  assert.equal(listToLines(undefined), '');
});

test('numberValue: empty means the default, text that is no number goes to the API to be refused by name', () => {
  assert.equal(numberValue(''), undefined);
  assert.equal(numberValue(' 12.5 '), 12.5);
  assert.equal(numberValue('-5'), -5);
  assert.equal(numberValue('lots'), 'lots');
});

test('problemsAt words each problem for the field it is about; unclaimed keeps the rest', () => {
  const problems = [
    { field: 'lists.ipBlock.1', message: 'is not an IP address or CIDR block' },
    { field: 'lists.ipBlock', message: 'too many' },
    { field: 'content.0.regex', message: 'does not compile' },
    { field: 'lists.ipBlockade', message: 'unknown key' },
  ];
  assert.deepEqual(problemsAt(problems, 'lists.ipBlock', doc), ['entry 2 ("999.1.1.1"): is not an IP address or CIDR block', 'too many']);
  assert.deepEqual(problemsAt(problems, 'content.0', doc), ['regex: does not compile']);
  assert.deepEqual(unclaimed(problems, ['lists.ipBlock', 'content']), [{ field: 'lists.ipBlockade', message: 'unknown key' }]);
});

test('nodeNames: the registry first, then names only the document carries', () => {
  assert.deepEqual(nodeNames(['scanner-1', 'scanner-2'], { nodes: { 'scanner-3': {}, 'scanner-1': {} } }), ['scanner-1', 'scanner-2', 'scanner-3']);
  assert.deepEqual(nodeNames([], {}), []);
});
