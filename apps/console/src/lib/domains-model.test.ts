import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyDomain, emptyForm, formFor, parseHosts, removeDomain, rulesProblems, storeInUse, storeProblems, type DomainForm } from './domains-model.ts';

const doc = {
  acceptedDomains: ['a.test', 'b.test', 'c.test'],
  routing: { domains: [{ domain: 'b.test', hosts: [{ host: 'mx1.b.test', priority: 10 }, { host: '192.0.2.1', priority: 20, port: 2525 }], port: 25, tls: 'required', maxConnections: 3 }] },
  recipientVerification: { domains: [{ domain: 'b.test', source: 'static' }, { domain: 'c.test', source: 'callout', callout: { host: 'mx.c.test' } }], tagSeparators: '+' },
  content: [{ id: 'x' }],
};
const form = (f: Partial<DomainForm>): DomainForm => ({ ...emptyForm(), ...f });

test('a new domain with servers and a static list is appended to the three lists; the rest of the document is kept', () => {
  const r = applyDomain(doc, undefined, form({ domain: 'New.Test', routeMode: 'hosts', hosts: '127.0.0.1:2525 5\nbackup.new.test', tls: 'none', source: 'static' , entries: 'alice@new.test' }));
  assert.ok('doc' in r);
  assert.deepEqual(r.doc['acceptedDomains'], ['a.test', 'b.test', 'c.test', 'new.test']);
  assert.deepEqual((r.doc['routing'] as { domains: unknown[] }).domains[1], { domain: 'new.test', hosts: [{ host: '127.0.0.1', priority: 5, port: 2525 }, { host: 'backup.new.test', priority: 10 }], port: 25, tls: 'none', maxConnections: 5 });
  assert.deepEqual((r.doc['recipientVerification'] as { domains: unknown[] }).domains[2], { domain: 'new.test', source: 'static' });
  assert.equal((r.doc['recipientVerification'] as { tagSeparators: string }).tagSeparators, '+');
  assert.deepEqual(r.doc['content'], [{ id: 'x' }]);
  assert.deepEqual(r.placement, { accepted: 3, route: 1, verified: 2 });
});

test('editing keeps the domain in place, renames it everywhere, and drops a route or verification set to none', () => {
  const f = formFor(doc, 'b.test', { kind: 'static', entries: ['x@b.test'] });
  assert.equal(f.hosts, 'mx1.b.test 10\n192.0.2.1:2525 20');
  assert.equal(f.tls, 'required');
  assert.equal(f.entries, 'x@b.test');
  const r = applyDomain(doc, 'b.test', { ...f, domain: 'bb.test', routeMode: 'relay', source: 'none' });
  assert.ok('doc' in r);
  assert.deepEqual(r.doc['acceptedDomains'], ['a.test', 'bb.test', 'c.test']);
  assert.deepEqual((r.doc['routing'] as { domains: unknown[] }).domains, []);
  assert.deepEqual((r.doc['recipientVerification'] as { domains: Array<{ domain: string }> }).domains.map((d) => d.domain), ['c.test']);
  assert.deepEqual(r.placement, { accepted: 1, route: undefined, verified: undefined });
});

test('the form\'s own problems: no domain, a duplicate, no servers, a server line that does not read, an empty list', () => {
  assert.deepEqual(applyDomain(doc, undefined, form({ domain: ' ' })), { errors: { domain: 'is required' } });
  assert.match((applyDomain(doc, undefined, form({ domain: 'A.test' })) as { errors: { domain: string } }).errors.domain, /already an accepted domain/);
  assert.match((applyDomain(doc, undefined, form({ domain: 'n.test', routeMode: 'hosts' })) as { errors: { hosts: string } }).errors.hosts, /at least one server/);
  assert.match(parseHosts('ok.test\nbad host line here').problem ?? '', /^line 2 \(bad host line here\)/);
  assert.deepEqual(parseHosts('[2001:db8::1]:25 7').hosts, [{ host: '2001:db8::1', port: 25, priority: 7 }]);
  assert.match((applyDomain(doc, undefined, form({ domain: 'n.test', source: 'static', entries: '\n' })) as { errors: { entries: string } }).errors.entries, /at least one/);
});

test('the API\'s problems land beside the form\'s fields for the edited domain only', () => {
  const placement = { accepted: 3, route: 1, verified: 2 };
  assert.deepEqual(rulesProblems([
    { field: 'routing.domains.1.port', message: 'must be <= 65535' },
    { field: 'routing.domains.1.hosts.0.host', message: 'must not be empty' },
    { field: 'recipientVerification.domains.2.callout.port', message: 'must be >= 1' },
    { field: 'acceptedDomains.3', message: 'bad domain' },
    { field: 'routing.domains.0.port', message: 'someone else\'s' },
  ], placement), {
    port: 'must be <= 65535', hosts: 'server 1 (host): must not be empty', calloutPort: 'must be >= 1', domain: 'bad domain', '': 'routing.domains.0.port: someone else\'s',
  });
  assert.deepEqual(storeProblems([{ field: 'body.entries.1', message: 'must be an address' }, { field: 'body.url', message: 'must match ^ldaps?://' }], ['a@x.test', 'nope']), {
    entries: 'line 2 (nope): must be an address', ldapUrl: 'must match ^ldaps?://',
  });
});

test('removing a domain takes it out of all three lists; a store entry is in use while another domain names it', () => {
  const d = removeDomain(doc, 'B.test');
  assert.deepEqual(d['acceptedDomains'], ['a.test', 'c.test']);
  assert.deepEqual((d['routing'] as { domains: unknown[] }).domains, []);
  assert.equal(storeInUse(doc, 'b.test'), true);
  assert.equal(storeInUse(d, 'b.test'), false);
});
