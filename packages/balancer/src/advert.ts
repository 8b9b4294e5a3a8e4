import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The election advert: a small binary UDP datagram (network order), VRRPv3's fields plus a
 * node id, a stamp for anti-replay and an HMAC-SHA256 over everything before it. It replaces
 * real VRRP (IP protocol 112, TTL 255), which Node cannot send or check.
 *
 *   0 magic "MOAT"  4 version=1  5 type=1  6 vrid  7 priority  8 interval (cs, u16)
 *  10 flags (bit0 preempt)  11 reserved  12 config hash (u32)  16 stamp (u64)
 *  24 nodeId length (u8)  25 nodeId  …  HMAC-SHA256 (32)
 */
const MAGIC = Buffer.from('MOAT');
const VERSION = 1;
const TYPE_ADVERT = 1;
const HEADER = 25;
const MAC = 32;
export const MAX_ADVERT_BYTES = HEADER + 64 + MAC;

export interface AdvertFields {
  readonly vrid: number;
  readonly priority: number;
  readonly intervalCs: number;
  readonly preempt: boolean;
  readonly configHash: number;
  /** Strictly increasing per sender; about the send time in µs (see nextStamp). */
  readonly stamp: number;
  readonly nodeId: string;
}

export type DecodeResult =
  | { readonly ok: true; readonly advert: AdvertFields }
  | { readonly ok: false; readonly reason: 'short' | 'magic' | 'version' | 'length' | 'hmac' };

function mac(key: string, body: Buffer): Buffer {
  return createHmac('sha256', key).update(body).digest();
}

export function encodeAdvert(a: AdvertFields, key: string): Buffer {
  const id = Buffer.from(a.nodeId, 'utf8');
  if (id.length > 64) throw new RangeError('nodeId longer than 64 bytes');
  const body = Buffer.alloc(HEADER + id.length);
  MAGIC.copy(body, 0);
  body.writeUInt8(VERSION, 4);
  body.writeUInt8(TYPE_ADVERT, 5);
  body.writeUInt8(a.vrid, 6);
  body.writeUInt8(a.priority, 7);
  body.writeUInt16BE(a.intervalCs & 0x0fff, 8);
  body.writeUInt8(a.preempt ? 1 : 0, 10);
  body.writeUInt32BE(a.configHash >>> 0, 12);
  body.writeBigUInt64BE(BigInt(a.stamp), 16);
  body.writeUInt8(id.length, 24);
  id.copy(body, HEADER);
  return Buffer.concat([body, mac(key, body)]);
}

export function decodeAdvert(buf: Buffer, key: string): DecodeResult {
  if (buf.length < HEADER + MAC) return { ok: false, reason: 'short' };
  if (!buf.subarray(0, 4).equals(MAGIC)) return { ok: false, reason: 'magic' };
  if (buf.readUInt8(4) !== VERSION || buf.readUInt8(5) !== TYPE_ADVERT) return { ok: false, reason: 'version' };
  const idLen = buf.readUInt8(24);
  if (idLen > 64 || buf.length !== HEADER + idLen + MAC) return { ok: false, reason: 'length' };
  const body = buf.subarray(0, HEADER + idLen);
  if (!timingSafeEqual(mac(key, body), buf.subarray(HEADER + idLen))) return { ok: false, reason: 'hmac' };
  return {
    ok: true,
    advert: {
      vrid: buf.readUInt8(6),
      priority: buf.readUInt8(7),
      intervalCs: buf.readUInt16BE(8) & 0x0fff,
      preempt: (buf.readUInt8(10) & 1) === 1,
      configHash: buf.readUInt32BE(12),
      stamp: Number(buf.readBigUInt64BE(16)),
      nodeId: body.subarray(HEADER).toString('utf8'),
    },
  };
}

/** Hash of the timers that must match on every node; a mismatch is logged and counted. */
export function configHash(vrid: number, advertIntervalMs: number): number {
  return createHash('sha256').update(`moat-election:v1:${vrid}:${advertIntervalMs}`).digest().readUInt32BE(0);
}

/**
 * Next stamp: the wall clock in µs, but always above the last one. A restarted sender thus
 * continues above its old stamps, and a receiver that forgot us can still bound replays by time.
 */
export function nextStamp(last: number, nowMs: number): number {
  return Math.max(last + 1, Math.floor(nowMs) * 1000);
}

export type ReplayResult =
  | { readonly ok: true; readonly seen: ReadonlyMap<string, number> }
  | { readonly ok: false; readonly reason: 'replay' | 'stale' };

/** Anti-replay: per sender the stamp must increase, and lie within `windowMs` of our clock. */
export function checkReplay(seen: ReadonlyMap<string, number>, nodeId: string, stamp: number, nowMs: number, windowMs: number): ReplayResult {
  const last = seen.get(nodeId);
  if (last !== undefined && stamp <= last) return { ok: false, reason: 'replay' };
  if (Math.abs(stamp / 1000 - nowMs) > windowMs) return { ok: false, reason: 'stale' };
  const next = new Map(seen);
  next.set(nodeId, stamp);
  return { ok: true, seen: next };
}
