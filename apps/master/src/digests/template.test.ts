import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeHtml, plainText, renderTemplate, templateProblem } from './template.ts';

const values = {
  digest: { recipient: 'bob@example.test', count: '2', portalUrl: 'https://q.example/user/link?t=a&b', linkHours: '72', date: 'today' },
  messages: [
    { sender: 'a@x.example', subject: '<script>alert(1)</script>', time: 't1', reason: 'r1', expires: 'e1', releaseUrl: 'https://q/1?t=x&y', allowUrl: 'u2', deleteUrl: 'u3' },
    { sender: 'b@y.example', subject: 'Second\r\nBcc: evil@x', time: 't2', reason: 'r2', expires: 'e2', releaseUrl: 'u4', allowUrl: 'u5', deleteUrl: 'u6' },
  ],
};

test('a section repeats per message; digest fields are usable inside it', () => {
  const out = renderTemplate('{{count}} for {{ recipient }}:{{#messages}} [{{sender}} {{recipient}}]{{/messages}} end', values, plainText);
  assert.equal(out, '2 for bob@example.test: [a@x.example bob@example.test] [b@y.example bob@example.test] end');
});

test('HTML values are escaped, so a subject cannot inject markup or break an attribute', () => {
  const out = renderTemplate('{{#messages}}<a href="{{releaseUrl}}">{{subject}}</a>{{/messages}}', values, escapeHtml);
  assert.doesNotMatch(out, /<script>/);
  assert.match(out, /&#60;script&#62;alert\(1\)&#60;\/script&#62;/);
  assert.match(out, /href="https:\/\/q\/1\?t=x&#38;y"/);
});

test('text values lose control characters: a subject cannot add a header line', () => {
  assert.equal(renderTemplate('{{#messages}}{{subject}}|{{/messages}}', values, plainText), '<script>alert(1)</script>|Second Bcc: evil@x|');
});

test('templateProblem names unknown placeholders and broken sections', () => {
  const cases: [string, boolean, RegExp | undefined][] = [
    ['{{count}} {{#messages}}{{subject}}{{/messages}}', true, undefined],
    ['{{nope}}', true, /unknown placeholder \{\{nope\}\}/],
    ['{{subject}}', true, /outside \{\{#messages\}\}/],
    ['{{#messages}}', true, /not closed/],
    ['{{/messages}}', true, /closes nothing/],
    ['{{#messages}}{{#messages}}{{/messages}}', true, /nested/],
    ['{{#items}}{{/items}}', true, /not a section/],
    ['{{#messages}}{{/messages}}', false, /not a section/],
  ];
  for (const [template, section, expected] of cases) {
    const problem = templateProblem(template, section);
    if (expected) assert.match(problem ?? '', expected, template);
    else assert.equal(problem, undefined, template);
  }
});
