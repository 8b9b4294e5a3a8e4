import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '@moat/config';
import { validateRules } from './validate.ts';
import { BASE_RULES, rulesDoc } from './test-fixtures.ts';

/** The keys a document's errors name, or [] when it is valid. */
function errorKeys(overrides: Record<string, unknown>): string[] {
  try {
    validateRules({ ...BASE_RULES, ...overrides });
    return [];
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.errors.map((e) => e.key);
  }
}

const rule = (fields: Record<string, unknown>) => ({ id: 'r1', target: 'subject', contains: 'x', action: 'tag', ...fields });

describe('validateRules', () => {
  it('fills in defaults and freezes the result', () => {
    const rules = validateRules(BASE_RULES);
    assert.equal(rules.scoring.tag, 5);
    assert.equal(rules.attachments.action, 'reject');
    assert.deepEqual(rules.lists.ipBlock, []);
    assert.ok(Object.isFrozen(rules) && Object.isFrozen(rules.lists));
  });
  it('names the source in the message', () => {
    assert.throws(() => validateRules({}, 'rules v9'), (err: Error) => err.message.startsWith('rules v9:'));
  });

  const cases: [string, Record<string, unknown>, string[]][] = [
    ['unknown top-level key', { colour: 'red' }, ['colour']],
    ['missing version', { version: undefined }, ['version']],
    ['empty acceptedDomains', { acceptedDomains: [] }, ['acceptedDomains']],
    ['open-relay accepted domain', { acceptedDomains: ['*'] }, ['acceptedDomains.0']],
    ['accepted domain with @', { acceptedDomains: ['ok.test', 'a@b.test'] }, ['acceptedDomains.1']],
    ['bad ipBlock entry', { lists: { ipBlock: ['192.0.2.0/24', '192.0.2.300'] } }, ['lists.ipBlock.1']],
    ['ipAllow prefix out of range', { lists: { ipAllow: ['2001:db8::/129'] } }, ['lists.ipAllow.0']],
    ['bad sender pattern', { lists: { senderBlock: ['a@b@c'] } }, ['lists.senderBlock.0']],
    ['bad recipient pattern', { lists: { recipientAllow: ['ok.test', '@x.test'] } }, ['lists.recipientAllow.1']],
    ['contains and regex', { content: [rule({ regex: 'y' })] }, ['content.0']],
    ['neither contains nor regex', { content: [rule({ contains: undefined })] }, ['content.0']],
    ['no action and no score', { content: [rule({ action: undefined })] }, ['content.0']],
    ['score alone is enough', { content: [rule({ action: undefined, score: 3 })] }, []],
    ['header target without header', { content: [rule({ target: 'header' })] }, ['content.0.header']],
    ['header with another target', { content: [rule({ header: 'X-Spam' })] }, ['content.0.header']],
    ['regex that does not compile', { content: [rule({ contains: undefined, regex: '(unclosed' })] }, ['content.0.regex']],
    ['catastrophic regex', { content: [rule({ contains: undefined, regex: '(a+)+$' })] }, ['content.0.regex']],
    ['safe repeated group', { content: [rule({ contains: undefined, regex: '(\\w+\\.)+com' })] }, []],
    ['regex over 1000 chars', { content: [rule({ contains: undefined, regex: 'a'.repeat(1001) })] }, ['content.0.regex']],
    ['duplicate ids', { content: [rule({}), rule({ contains: 'y' }), rule({ contains: 'z' })] }, ['content.1.id', 'content.2.id']],
    ['disabled rules are checked too', { content: [rule({ enabled: false, contains: undefined, regex: '[' })] }, ['content.0.regex']],
    ['bad rule id', { content: [rule({ id: 'has space' })] }, ['content.0.id']],
    ['unknown content key', { content: [rule({ colour: 1 })] }, ['content.0.colour']],
    ['bad action', { content: [rule({ action: 'drop' })] }, ['content.0.action']],
    ['quarantine below tag', { scoring: { tag: 8, quarantine: 6, reject: 20 } }, ['scoring.quarantine']],
    ['reject below quarantine', { scoring: { reject: 9 } }, ['scoring.reject']],
    ['equal thresholds are fine', { scoring: { tag: 10, quarantine: 10, reject: 10 } }, []],
    ['attachment action must be quarantine or reject', { attachments: { action: 'tag' } }, ['attachments.action']],
    ['extension with a dot', { attachments: { blockedExtensions: ['.exe'] } }, ['attachments.blockedExtensions.0']],
    ['size limit too small', { limits: { maxMessageBytes: 10 } }, ['limits.maxMessageBytes']],
  ];
  for (const [name, overrides, keys] of cases) {
    it(`${name} → ${keys.length === 0 ? 'valid' : keys.join(', ')}`, () => {
      const found = errorKeys(overrides);
      if (keys.length === 0) assert.deepEqual(found, []);
      else for (const key of keys) assert.ok(found.includes(key), `expected ${key} in ${JSON.stringify(found)}`);
    });
  }
  it('reports every semantic problem at once', () => {
    const found = errorKeys({ lists: { ipBlock: ['not-an-ip'] }, content: [rule({ action: undefined })], scoring: { reject: 1 } });
    assert.deepEqual(found, ['lists.ipBlock.0', 'content.0', 'scoring.reject']);
  });
  it('refuses a bad authentication action or score, naming the key', () => {
    assert.throws(() => validateRules({ ...BASE_RULES, authentication: { dmarcReject: 'drop' } }), /authentication\.dmarcReject/);
    assert.throws(() => validateRules({ ...BASE_RULES, authentication: { spfFail: 5000 } }), /authentication\.spfFail/);
    assert.throws(() => validateRules({ ...BASE_RULES, authentication: { spfFial: 1 } }), /authentication\.spfFial/);
  });
  it('does not modify its input', () => {
    const input = { ...BASE_RULES, content: [rule({})] };
    const before = structuredClone(input);
    validateRules(input);
    assert.deepEqual(input, before);
  });
  it('fills per-node defaults, so an admin may write only what changes', () => {
    const input = { ...BASE_RULES, nodes: { a: { maintenance: true }, b: { weight: 3 } } };
    const before = structuredClone(input);
    assert.deepEqual(validateRules(input).nodes, { a: { weight: 1, backup: false, maintenance: true }, b: { weight: 3, backup: false, maintenance: false } });
    assert.deepEqual(input, before);
    assert.throws(() => validateRules({ ...BASE_RULES, nodes: { a: { maintenance: 'yes' } } }), /nodes\.a\.maintenance/);
  });
  it('checks recipientLists: defaults filled, keys are one lower-case address, entries are patterns', () => {
    assert.deepEqual(validateRules({ ...BASE_RULES, recipientLists: { 'bob@example.test': { allow: ['a@b.example'] } } }).recipientLists, {
      'bob@example.test': { allow: ['a@b.example'], block: [] },
    });
    assert.throws(() => validateRules({ ...BASE_RULES, recipientLists: { 'Bob@example.test': {} } }), /recipientLists\.Bob@example\.test: must be one lower-case/);
    assert.throws(() => validateRules({ ...BASE_RULES, recipientLists: { '*@example.test': {} } }), /recipientLists\.\*@example\.test/);
    assert.throws(() => validateRules({ ...BASE_RULES, recipientLists: { 'bob@example.test': { block: ['a b'] } } }), /recipientLists\.bob@example\.test\.block\.0/);
    assert.throws(() => validateRules({ ...BASE_RULES, recipientLists: { 'bob@example.test': { allow: [], extra: 1 } } }), /recipientLists/);
  });
  it('agrees with the defaults the other tests fill in (test-fixtures.ts)', () => {
    const documents: Record<string, unknown>[] = [
      {},
      { lists: { ipAllow: ['192.0.2.10'], senderBlock: ['*@blocked.example'] }, limits: { maxMessageBytes: 10_000 } },
      { attachments: { action: 'quarantine', scanArchives: false }, scoring: { tag: 3, quarantine: 6, reject: 9 } },
      { content: [rule({}), rule({ id: 'r2', enabled: false, caseInsensitive: false, target: 'header', header: 'X-A', score: 2 })] },
      { authentication: { spfFail: 5, dmarcReject: 'reject' } },
      { tagging: { subjectPrefix: '' }, nodes: { n1: { weight: 2, backup: false, maintenance: false } } },
    ];
    for (const document of documents) assert.deepEqual(validateRules({ ...BASE_RULES, ...document }), rulesDoc(document));
  });
});
