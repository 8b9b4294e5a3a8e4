import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { waitUntil } from './wait.ts';

/**
 * A raw cluster-link client over a real WebSocket, for tests that speak the protocol by hand:
 * every frame it receives (parsed), `closed` resolving with the close code, and the master's
 * opening challenge (its nonce and protocol version).
 */
export async function rawLink(url: string) {
  const ws = new WebSocket(url);
  const frames: Record<string, unknown>[] = [];
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  ws.on('message', (d: Buffer) => frames.push(JSON.parse(d.toString()) as Record<string, unknown>));
  ws.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => ws.once('open', resolve).once('error', reject));
  await waitUntil(() => frames.length > 0, 'the challenge');
  const challenge = frames[0] as { type: string; nonce: string; protocol: number };
  assert.equal(challenge.type, 'challenge');
  return { ws, frames, closed, challenge, nonce: challenge.nonce };
}
