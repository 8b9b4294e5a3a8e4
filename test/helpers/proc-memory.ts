import { readFileSync } from 'node:fs';

/**
 * A memory field of /proc/PID/status in KiB. VmHWM is the kernel's exact peak resident set
 * ("high water mark") of the process so far; VmRSS is the current resident set.
 */
export function procStatusKb(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
  if (!m?.[1]) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(m[1]);
}
