/**
 * Fuzz target `rules`: packages/rules validateRules on random documents (from the schema, and
 * mutations of the demo and test rules). Either the document is valid, and then compileRules
 * works and evaluateMessage / the envelope checks run on random facts, or validateRules throws
 * a ConfigError whose every error names a key. Nothing else may happen.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ConfigError } from '@moat/config';
import { RulesSchema, validateRules, compileRules, evaluateMessage, checkClient, checkSender, checkRecipient, demoRules, GTUBE, type MessageFacts } from '@moat/rules';
import { BASE_RULES } from '../helpers/scanner-harness.ts';
import { anyJson, fromSchema, mutationsOf, nastyString } from './arbitraries.ts';
import { fuzz } from './fuzz-runner.ts';
import { assertConfigError } from './assertions.ts';

const RICH_RULES = {
  ...BASE_RULES,
  lists: { ipAllow: ['10.0.0.0/8', '2001:db8::/32'], ipBlock: ['192.0.2.1'], senderAllow: ['boss@example.test'], senderBlock: ['*@blocked.example', 'user@*'], recipientAllow: [], recipientBlock: ['*.example.test'] },
  content: [
    ...BASE_RULES.content,
    { id: 'regex', target: 'body', regex: '^(?:free|cheap)\\s+\\w+$', action: 'reject', caseInsensitive: false },
    { id: 'hdr', target: 'header', header: 'X-Spam', contains: 'yes', score: 5 },
  ],
  scoring: { tag: 5, quarantine: 10, reject: 20 },
  nodes: { a: { weight: 3 }, b: { maintenance: true } },
};

const address = fc.oneof(fc.emailAddress(), nastyString, fc.constantFrom('', 'boss@example.test', 'x@blocked.example', 'user@example.test', 'USER@EXAMPLE.TEST'));
const facts: fc.Arbitrary<MessageFacts> = fc.record({
  clientIp: fc.oneof(fc.ipV4(), fc.ipV6(), nastyString, fc.constantFrom('10.1.2.3', '192.0.2.1', '::ffff:10.0.0.1')),
  mailFrom: address,
  rcptTo: fc.array(address, { maxLength: 4 }),
  sizeBytes: fc.oneof(fc.nat(), fc.constantFrom(-1, 2 ** 53, 1e20)),
  headers: fc.array(fc.record({ name: fc.oneof(nastyString, fc.constantFrom('Subject', 'X-Spam', 'x-spam')), value: nastyString }), { maxLength: 5 }),
  subject: fc.oneof(nastyString, fc.constantFrom('QUARANTINE-ME', 'tag-me', GTUBE)),
  bodyText: fc.oneof(nastyString, fc.constantFrom('free stuff', 'a'.repeat(5000) + '!', GTUBE)),
  attachments: fc.array(fc.record({ filename: nastyString, contentType: nastyString, sizeBytes: fc.nat(), archiveEntries: fc.option(fc.array(nastyString, { maxLength: 3 }), { nil: undefined }) }), { maxLength: 3 }),
  extraScores: fc.option(fc.array(fc.record({ id: fc.string(), score: fc.double({ noNaN: true }), detail: fc.string(), action: fc.option(fc.constantFrom('deliver', 'tag', 'quarantine', 'reject', 'bogus' as never), { nil: undefined }) }), { maxLength: 2 }), { nil: undefined }),
});

const documents = fc.oneof(
  { weight: 3, arbitrary: fromSchema(RulesSchema) },
  { weight: 3, arbitrary: mutationsOf(RICH_RULES) },
  { weight: 2, arbitrary: mutationsOf(JSON.parse(JSON.stringify(demoRules()))) },
  { weight: 1, arbitrary: anyJson },
);

let valid = 0;

test('fuzz rules: validateRules → valid (compiles, evaluates) or a ConfigError naming keys', async () => {
  await fuzz({
    name: 'rules',
    defaultRuns: 1000,
    arbitrary: fc.record({ document: documents, facts }),
    property({ document, facts: f }) {
      let rules;
      try {
        rules = validateRules(document, 'fuzz rules');
      } catch (err) {
        assertConfigError(err, 'fuzz rules');
        return;
      }
      const compiled = compileRules(rules);
      const verdict = evaluateMessage(compiled, f);
      assert.ok(['deliver', 'tag', 'quarantine', 'reject'].includes(verdict.action), `action ${verdict.action}`);
      assert.equal(typeof verdict.score, 'number');
      valid++;
      for (const d of [checkClient(compiled, f.clientIp), checkSender(compiled, f.clientIp, f.mailFrom), ...f.rcptTo.map((r) => checkRecipient(compiled, f.clientIp, f.mailFrom, r))]) {
        if (!d.ok) assert.match(`${d.code} ${d.enhanced}`, /^[45]\d\d [45]\.\d{1,3}\.\d{1,3}$/);
      }
    },
  });
  // The generator must reach the evaluator, not only the validator.
  assert.ok(valid > 0, 'no generated document was valid');
  console.log(`rules: ${valid} valid documents evaluated`);
});

test('fuzz rules: a ConfigError is thrown for a non-object', () => {
  assert.throws(() => validateRules('not rules'), ConfigError);
});
