import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeTiming, fromForm, NEW_SCHEDULE, scheduleErrors, toForm } from './report-schedule-model.ts';

test('lists are one entry a line in the form; blank lines dropped, domains lower-cased, top lists in the page\'s order', () => {
  const form = { ...toForm(NEW_SCHEDULE), recipients: 'ops@example.com\n\n  boss@example.com , cfo@example.com\n', domains: 'Example.COM\nother.example', topLists: ['virus' as const, 'sender' as const] };
  const s = fromForm(form);
  assert.deepEqual(s.recipients, ['ops@example.com', 'boss@example.com', 'cfo@example.com']);
  assert.deepEqual(s.domains, ['example.com', 'other.example']);
  assert.deepEqual(s.topLists, ['sender', 'virus']);
  assert.deepEqual(fromForm(toForm(s)), s, 'round trip');
});

test('the API\'s field errors go beside their inputs, naming the entry of a list', () => {
  const form = { ...toForm(NEW_SCHEDULE), recipients: 'ops@example.com\nnot-an-address' };
  assert.deepEqual(scheduleErrors([
    { field: 'recipients.1', message: 'must match pattern' },
    { field: 'sendAt', message: 'must match pattern' },
    { field: 'body.name', message: 'required key is missing' },
    { field: 'nope', message: 'unknown key' },
  ], form), {
    recipients: 'entry 2 (not-an-address): must match pattern',
    sendAt: 'must match pattern',
    name: 'required key is missing',
    '': 'nope: unknown key',
  });
});

test('timing in words', () => {
  assert.equal(describeTiming({ period: 'daily', sendAt: '07:00', weekday: 'monday' }), 'daily at 07:00 UTC');
  assert.equal(describeTiming({ period: 'weekly', sendAt: '06:30', weekday: 'friday' }), 'weekly, Fridays at 06:30 UTC');
});
