import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedScanner } from '../helpers/scanner-harness.ts';
import { message, RawSmtp } from '../helpers/smtp-client.ts';
import { waitUntil } from '../helpers/wait.ts';

// What a standalone scanner writes to its outbox for refused transactions: one entry per
// transaction, written when it ends (next MAIL FROM, DATA, close), with every refused recipient.

const shared = sharedScanner();

interface Entry { id: string; mailFrom: string; rcptTo: string[]; status: string; reasons: { rule: string }[]; refusal?: { stage: string; reply: string; count: number } }

function entriesSince(seq: number): (Entry & { seq: number })[] {
  const rows = shared.node.scanner.db.prepare("SELECT seq, payload FROM outbox WHERE type = 'message.logged' AND seq > ? ORDER BY seq").all(seq) as { seq: number; payload: string }[];
  return rows.map((r) => ({ seq: r.seq, ...(JSON.parse(r.payload) as Entry) }));
}
const lastSeq = () => (shared.node.scanner.db.prepare('SELECT coalesce(max(seq), 0) FROM outbox').pluck().get() as number);

test('refused recipients of a transaction that goes on to DATA: one refusal entry with both, and the message for the accepted one', async () => {
  const since = lastSeq();
  const c = await RawSmtp.open(shared.node.port);
  try {
    assert.match(await c.reply(), /^220 /);
    assert.match(await c.command('EHLO client.test'), /^250/);
    assert.match(await c.command('MAIL FROM:<alice@origin.test>'), /^250/);
    assert.match(await c.command('RCPT TO:<one@elsewhere.test>'), /^550 5\.7\.1 /);
    assert.match(await c.command('RCPT TO:<two@elsewhere.test>'), /^550 5\.7\.1 /);
    assert.match(await c.command('RCPT TO:<user@example.test>'), /^250/);
    assert.match(await c.command('DATA'), /^354/);
    assert.match(await c.command(`${message()}\r\n.`), /^250 2\.0\.0 Ok: queued as /);
    await c.command('QUIT');
  } finally {
    c.close();
  }
  await waitUntil(() => entriesSince(since).length >= 2, 'both entries in the outbox');
  const [refused, accepted] = [entriesSince(since).find((e) => e.status === 'refused')!, entriesSince(since).find((e) => e.status !== 'refused')!];
  assert.deepEqual(refused.rcptTo, ['one@elsewhere.test', 'two@elsewhere.test']);
  assert.equal(refused.mailFrom, 'alice@origin.test');
  assert.equal(refused.refusal?.stage, 'rcpt');
  assert.match(refused.refusal!.reply, /^550 5\.7\.1 /);
  assert.deepEqual(refused.reasons.map((r) => r.rule), ['acceptedDomains'], 'the same reason once');
  assert.deepEqual(accepted.rcptTo, ['user@example.test']);
  assert.notEqual(refused.id, accepted.id);
});

test('RSET ends a transaction: two transactions with a refused recipient each are two entries, each with its own sender', async () => {
  const since = lastSeq();
  const c = await RawSmtp.open(shared.node.port);
  try {
    await c.reply();
    await c.command('EHLO client.test');
    await c.command('MAIL FROM:<first@origin.test>');
    assert.match(await c.command('RCPT TO:<x@elsewhere.test>'), /^550/);
    assert.match(await c.command('RSET'), /^250/);
    await c.command('MAIL FROM:<second@origin.test>');
    assert.match(await c.command('RCPT TO:<y@elsewhere.test>'), /^550/);
    await c.command('QUIT');
  } finally {
    c.close();
  }
  await waitUntil(() => entriesSince(since).length >= 2, 'two entries in the outbox');
  const entries = entriesSince(since);
  assert.deepEqual(entries.map((e) => [e.mailFrom, e.rcptTo]), [['first@origin.test', ['x@elsewhere.test']], ['second@origin.test', ['y@elsewhere.test']]]);
});

test('a sender refused at MAIL FROM: its entry is committed before the client gets the 550', async () => {
  const since = lastSeq();
  const c = await RawSmtp.open(shared.node.port);
  try {
    await c.reply();
    await c.command('EHLO client.test');
    assert.match(await c.command('MAIL FROM:<spammer@blocked.example>'), /^550 5\.7\.1 /);
    const entries = entriesSince(since);
    assert.equal(entries.length, 1, 'in the outbox already');
    assert.equal(entries[0]!.refusal?.stage, 'mail');
    assert.deepEqual(entries[0]!.rcptTo, []);
  } finally {
    c.close();
  }
});
