import { JOIN_TOKEN_DEFAULT_TTL_SECONDS, JOIN_TOKEN_MAX_TTL_SECONDS } from '@moat/master';

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/**
 * `--ttl` of `moat master join-token`: seconds, or a number with s/m/h/d (`90m`, `2d`); absent:
 * an hour. Undefined for anything else or outside a minute … a week, so the caller names the option.
 */
export function parseTtl(text: string | undefined): number | undefined {
  if (text === undefined) return JOIN_TOKEN_DEFAULT_TTL_SECONDS;
  const m = /^(\d{1,7})([smhd]?)$/.exec(text.trim());
  if (!m) return undefined;
  const seconds = Number(m[1]) * UNITS[m[2] || 's']!;
  return seconds >= 60 && seconds <= JOIN_TOKEN_MAX_TTL_SECONDS ? seconds : undefined;
}
