import type { TSchema, Static } from 'typebox';
import { Compile } from 'typebox/compile';
import { collectErrors } from '@moat/config';
import { MAX_FRAME_BYTES, ToMasterFrame, ToScannerFrame, type ToMaster, type ToScanner } from './frames.ts';

/** A frame that cannot be accepted; the receiver answers with an `error` frame and closes. */
export class FrameError extends Error {
  readonly code: 'MOAT_ERR_FRAME_SIZE' | 'MOAT_ERR_FRAME_JSON' | 'MOAT_ERR_FRAME_SCHEMA';
  constructor(code: FrameError['code'], message: string) {
    super(message);
    this.name = 'FrameError';
    this.code = code;
  }
}

export function decoder<S extends TSchema>(schema: S) {
  const check = Compile(schema);
  return (raw: Buffer | string): Static<S> => {
    const size = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length;
    if (size > MAX_FRAME_BYTES) throw new FrameError('MOAT_ERR_FRAME_SIZE', `frame of ${size} bytes is over the ${MAX_FRAME_BYTES}-byte limit`);
    let value: unknown;
    try {
      value = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
    } catch {
      throw new FrameError('MOAT_ERR_FRAME_JSON', 'frame is not valid JSON');
    }
    if (!check.Check(value)) {
      const type = typeof value === 'object' && value !== null && 'type' in value ? describeType((value as { type: unknown }).type) : '(none)';
      const first = collectErrors(schema, value).slice(0, 3).map((e) => `${e.key}: ${e.message}`).join('; ');
      throw new FrameError('MOAT_ERR_FRAME_SCHEMA', `invalid frame of type ${type}: ${first}`.slice(0, 900));
    }
    return value as Static<S>;
  };
}

/**
 * The `type` of a rejected frame, for its error message. Only a string is quoted as it is: any
 * JSON value may sit there, and `String()` of an object such as `{"toString":1}` throws.
 */
function describeType(type: unknown): string {
  if (typeof type === 'string') return type.slice(0, 40);
  if (type === null) return '(null)';
  if (Array.isArray(type)) return '(an array)';
  return typeof type === 'object' ? '(an object)' : `(a ${typeof type})`;
}

/** Master side: parse and validate what a scanner sent. */
export const decodeToMaster: (raw: Buffer | string) => ToMaster = decoder(ToMasterFrame);
/** Scanner side: parse and validate what the master sent. */
export const decodeToScanner: (raw: Buffer | string) => ToScanner = decoder(ToScannerFrame);

export function encodeFrame(frame: ToMaster | ToScanner): string {
  return JSON.stringify(frame);
}

/** Validate a payload against any schema of this package (event payloads). */
export function validator<S extends TSchema>(schema: S): (value: unknown) => value is Static<S> {
  const check = Compile(schema);
  return (value: unknown): value is Static<S> => check.Check(value);
}
