import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NodeOfflineError, NodeRequestError } from '../app-deps.ts';
import { errorFromPeer, peerErrorBody, peerFrame, withoutId, type PeerFrame } from './peer-wire.ts';

const MESSAGE_ID = 'A'.repeat(20);

test('a forwarded frame: only requests for one node, as the link\'s schemas have them; the fetches are streamed', () => {
  const cases: { frame: PeerFrame; ok: boolean; streamed?: boolean }[] = [
    { frame: { type: 'quarantine.fetch', messageId: MESSAGE_ID, window: 8 }, ok: true, streamed: true },
    { frame: { type: 'retained.fetch', messageId: MESSAGE_ID, window: 8 }, ok: true, streamed: true },
    { frame: { type: 'quarantine.release', messageId: MESSAGE_ID }, ok: true, streamed: false },
    { frame: { type: 'quarantine.delete', messageId: MESSAGE_ID }, ok: true, streamed: false },
    { frame: { type: 'queue.list', limit: 10 }, ok: true, streamed: false },
    { frame: { type: 'queue.bounce', queueId: MESSAGE_ID }, ok: true, streamed: false },
    { frame: { type: 'verify.test', address: 'bob@example.test' }, ok: true, streamed: false },
    // Pushes and link control are never another master's to send on this link.
    { frame: { type: 'rules.push', version: 2, rules: {} }, ok: false },
    { frame: { type: 'stream.cancel' }, ok: false },
    { frame: { type: 'welcome', protocol: 9, nodeId: 'n', heartbeatMs: 1000 }, ok: false },
    // The schemas hold: a bad id, an unknown field, a missing one.
    { frame: { type: 'quarantine.fetch', messageId: '../etc', window: 8 }, ok: false },
    { frame: { type: 'quarantine.release', messageId: MESSAGE_ID, extra: 1 }, ok: false },
    { frame: { type: 'queue.list' }, ok: false },
  ];
  for (const c of cases) {
    const checked = peerFrame(c.frame);
    assert.equal(checked !== undefined, c.ok, JSON.stringify(c.frame));
    if (!checked) continue;
    assert.equal(checked.streamed, c.streamed, c.frame.type);
    assert.deepEqual(checked.build('r1'), { ...c.frame, id: 'r1' });
  }
});

test('withoutId: the frame a builder makes, without the id the receiving master gives it', () => {
  assert.deepEqual(withoutId((id) => ({ type: 'quarantine.release', id, messageId: MESSAGE_ID })), { type: 'quarantine.release', messageId: MESSAGE_ID });
});

test('a node\'s error answered by the peer is thrown again as the same error; anything else is MOAT_ERR_PEER', () => {
  const offline = errorFromPeer(503, peerErrorBody(new NodeOfflineError('scanner-1')), 'fallback', 'master-b');
  assert.ok(offline instanceof NodeOfflineError);
  assert.equal(offline.nodeName, 'scanner-1');

  const refused = errorFromPeer(404, peerErrorBody(new NodeRequestError('scanner-1', 'MOAT_ERR_NOT_FOUND', 'no such message')), 'fallback', 'master-b');
  assert.ok(refused instanceof NodeRequestError);
  assert.deepEqual([refused.nodeName, refused.code, refused.message], ['scanner-1', 'MOAT_ERR_NOT_FOUND', 'no such message']);

  for (const [status, body] of [[401, { error: 'no', code: 'MOAT_ERR_PEER_UNAUTHENTICATED' }], [500, { error: 'Internal Server Error', code: 'MOAT_ERR_INTERNAL', details: { requestId: '1' } }], [502, undefined], [400, { error: 'x', code: 'MOAT_ERR_VALIDATION', details: [{ field: 'frame' }] }]] as const) {
    const err = errorFromPeer(status, body, 'scanner-1', 'master-b');
    assert.ok(err instanceof NodeRequestError && !(err instanceof NodeOfflineError), String(status));
    assert.equal(err.code, 'MOAT_ERR_PEER');
    assert.equal(err.nodeName, 'scanner-1');
    assert.match(err.message, new RegExp(`master master-b.*answered ${status}`));
  }
});
