import { helloSignature, newNodeKeyPair, PROTOCOL_VERSION } from '@moat/protocol';

export type NodeKey = ReturnType<typeof newNodeKeyPair>;
export const nodeKey = (): NodeKey => newNodeKeyPair();

/**
 * A hello as a scanner sends it, for tests that speak the link by hand: signed with `key`;
 * a join (with `joinToken`, presenting the key) or, with `nodeId`, a node that has joined.
 */
export function nodeHello(a: { nodeName: string; nonce: string; key: NodeKey; nodeId?: string; joinToken?: string; protocol?: number; rulesVersion?: number; software?: string }): string {
  return JSON.stringify({
    type: 'hello',
    protocol: a.protocol ?? PROTOCOL_VERSION,
    nodeName: a.nodeName,
    ...(a.nodeId ? { nodeId: a.nodeId } : {}),
    ...(a.joinToken ? { joinToken: a.joinToken, publicKey: a.key.publicKey } : {}),
    proof: helloSignature(a.key.privateKeyPem, a.nodeName, a.nonce),
    software: a.software ?? 'test',
    rulesVersion: a.rulesVersion ?? 0,
    smtpAddress: '127.0.0.1:1',
  });
}
