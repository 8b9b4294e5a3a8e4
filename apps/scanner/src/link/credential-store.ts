import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { newNodeKeyPair, publicKeyText } from '@moat/protocol';
import { writeFileDurably } from '@moat/storage';

/**
 * What a scanner keeps after joining: the node id the master gave it. Before protocol 2 the
 * file also held an HMAC credential; such a file names no key the master knows, so the node
 * joins again with a token (docs/operator-guide.md, "Upgrading to node keys").
 */
export interface NodeCredential {
  readonly nodeId: string;
}

export function credentialStore(dataDir: string) {
  const file = join(dataDir, 'cluster-credential.json');
  return {
    load(): NodeCredential | undefined {
      if (!existsSync(file)) return undefined;
      const stored = JSON.parse(readFileSync(file, 'utf8')) as { nodeId?: unknown; credential?: unknown };
      if (typeof stored.nodeId !== 'string' || stored.credential !== undefined) return undefined;
      return { nodeId: stored.nodeId };
    },
    save: (c: NodeCredential): Promise<void> => writeFileDurably(file, JSON.stringify({ nodeId: c.nodeId })),
  };
}

/** The node's own Ed25519 key: its private half never leaves `dataDir/node-key.pem` (0600). */
export interface NodeKey {
  readonly privateKeyPem: string;
  /** base64url, what the master keeps. */
  readonly publicKey: string;
}

/** Load the node's key, or make one on first start (written durably, mode 0600). */
export async function loadOrCreateNodeKey(dataDir: string): Promise<NodeKey> {
  const file = join(dataDir, 'node-key.pem');
  if (existsSync(file)) {
    const privateKeyPem = readFileSync(file, 'utf8');
    return { privateKeyPem, publicKey: publicKeyText(privateKeyPem) };
  }
  const pair = newNodeKeyPair();
  await writeFileDurably(file, pair.privateKeyPem);
  return pair;
}
