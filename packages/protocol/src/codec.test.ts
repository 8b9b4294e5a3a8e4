import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeToMaster, decodeToScanner, encodeFrame, FrameError } from './codec.ts';
import { MAX_FRAME_BYTES } from './frames.ts';
import { helloSignature, helloVerifies, newNodeKeyPair, newNonce, publicKeyText } from './auth.ts';

const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof FrameError);
    return err.code;
  }
  return 'none';
};

test('valid frames round-trip', () => {
  const hb = { type: 'heartbeat' as const, at: 1, queueDepth: 2, outboxBacklog: 0, rulesVersion: 3 };
  assert.deepEqual(decodeToMaster(encodeFrame(hb)), hb);
  const push = { type: 'rules.push' as const, version: 4, rules: { version: 4, acceptedDomains: ['a.test'] } };
  assert.deepEqual(decodeToScanner(encodeFrame(push)), push);
});

test('bad JSON, wrong type, extra fields, oversize and direction are refused with a code', () => {
  assert.equal(codeOf(() => decodeToMaster('{nope')), 'MOAT_ERR_FRAME_JSON');
  assert.equal(codeOf(() => decodeToMaster('{"type":"launch"}')), 'MOAT_ERR_FRAME_SCHEMA');
  assert.equal(codeOf(() => decodeToMaster('[]')), 'MOAT_ERR_FRAME_SCHEMA');
  assert.equal(codeOf(() => decodeToMaster('{"type":"heartbeat","at":1,"evil":true}')), 'MOAT_ERR_FRAME_SCHEMA');
  assert.equal(codeOf(() => decodeToMaster(JSON.stringify({ type: 'rules.push', version: 1, rules: {} }))), 'MOAT_ERR_FRAME_SCHEMA', 'a master frame is not accepted from a scanner');
  assert.equal(codeOf(() => decodeToMaster(Buffer.alloc(MAX_FRAME_BYTES + 1, 0x20))), 'MOAT_ERR_FRAME_SIZE');
  assert.equal(codeOf(() => decodeToScanner(JSON.stringify({ type: 'quarantine.fetch', id: 'r1', messageId: '../../etc/passwd00', window: 4 }))), 'MOAT_ERR_FRAME_SCHEMA', 'a path is never a message id');
});

test('a type that is not a string is named by its kind, whatever its keys', () => {
  const messageOf = (raw: string) => {
    try {
      decodeToMaster(raw);
    } catch (err) {
      assert.ok(err instanceof FrameError, `a FrameError, not ${(err as Error).name}`);
      assert.equal(err.code, 'MOAT_ERR_FRAME_SCHEMA');
      return err.message;
    }
    assert.fail('decoded');
  };
  assert.match(messageOf('{"type":{"toString":1,"valueOf":{}}}'), /^invalid frame of type \(an object\):/);
  assert.match(messageOf('{"type":[1]}'), /^invalid frame of type \(an array\):/);
  assert.match(messageOf('{"type":null}'), /^invalid frame of type \(null\):/);
  assert.match(messageOf('{"type":7}'), /^invalid frame of type \(a number\):/);
  assert.match(messageOf('{"type":"launch"}'), /^invalid frame of type launch:/);
});

test('hello signatures bind the node key, node name and nonce', () => {
  const nonce = newNonce();
  const key = newNodeKeyPair();
  assert.equal(publicKeyText(key.privateKeyPem), key.publicKey);
  const proof = helloSignature(key.privateKeyPem, 'scanner-1', nonce);
  assert.ok(helloVerifies(key.publicKey, 'scanner-1', nonce, proof));
  assert.ok(!helloVerifies(key.publicKey, 'scanner-1', newNonce(), proof), 'a replay under a new nonce fails');
  assert.ok(!helloVerifies(newNodeKeyPair().publicKey, 'scanner-1', nonce, proof), 'another key');
  assert.ok(!helloVerifies(key.publicKey, 'scanner-2', nonce, proof), 'another name');
  assert.ok(!helloVerifies(key.publicKey, 'scanner-1', nonce, 'zz'));
  assert.ok(!helloVerifies('A'.repeat(43), 'scanner-1', nonce, proof), 'a key that is not a curve point');
});

test('retention frames: ids and recipients are checked by the schema', () => {
  const fetch = { type: 'retained.fetch' as const, id: 'r2', messageId: 'A'.repeat(20), window: 8 };
  assert.deepEqual(decodeToScanner(encodeFrame(fetch)), fetch);
  const redeliver = { type: 'retained.redeliver' as const, id: 'r3', messageId: 'B'.repeat(20), rcptTo: ['a@example.test'] };
  assert.deepEqual(decodeToScanner(encodeFrame(redeliver)), redeliver);
  assert.deepEqual(decodeToScanner(encodeFrame({ type: 'retained.redeliver', id: 'r4', messageId: 'B'.repeat(20) })), { type: 'retained.redeliver', id: 'r4', messageId: 'B'.repeat(20) });
  const bad = [
    { type: 'retained.fetch', id: 'r5', messageId: '../retained/x.eml00', window: 8 },
    { type: 'retained.redeliver', id: 'r6', messageId: 'B'.repeat(20), rcptTo: [] },
    { type: 'retained.redeliver', id: 'r7', messageId: 'B'.repeat(20), rcptTo: ['no address'] },
    { type: 'retained.redeliver', id: 'r8', messageId: 'B'.repeat(20), rcptTo: ['<a@b>'] },
    { type: 'retained.redeliver', id: 'r9', messageId: 'B'.repeat(20), rcptTo: Array.from({ length: 101 }, (_, i) => `u${i}@example.test`) },
  ];
  for (const frame of bad) assert.equal(codeOf(() => decodeToScanner(JSON.stringify(frame))), 'MOAT_ERR_FRAME_SCHEMA', JSON.stringify(frame).slice(0, 80));
});
