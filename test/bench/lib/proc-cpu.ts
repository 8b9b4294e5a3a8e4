/**
 * CPU time and peak memory of a process tree from /proc: utime + stime (fields 14 and 15 of
 * /proc/PID/stat, every thread of the process included) summed over the root and its living
 * descendants (nginx's master and workers), in clock ticks converted to ms. Read before and
 * after a run; the difference is the CPU the tree spent on it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

let tickMs: number | undefined;

/** Length of one clock tick in ms (`getconf CLK_TCK`, 100 on Linux: 10 ms). */
export function clockTickMs(): number {
  if (tickMs === undefined) {
    let hz = 100;
    try {
      hz = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 5000 }).trim()) || 100;
    } catch {
      /* Linux default */
    }
    tickMs = 1000 / hz;
  }
  return tickMs;
}

interface Stat {
  ppid: number;
  ticks: number;
  /** cutime + cstime: the CPU of children this process has reaped (Postfix's short-lived daemons). */
  reapedTicks: number;
}

function readStat(pid: number): Stat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // rest[0] is field 3 (state): utime is field 14 → rest[11], stime field 15 → rest[12].
    if (rest[0] === 'Z') return undefined;
    return { ppid: Number(rest[1]), ticks: Number(rest[11]) + Number(rest[12]), reapedTicks: Number(rest[13]) + Number(rest[14]) };
  } catch {
    return undefined;
  }
}

/** The root and its living descendants. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const s = readStat(pid);
    if (!s) continue;
    const list = children.get(s.ppid);
    if (list) list.push(pid);
    else children.set(s.ppid, [pid]);
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) out.push(...(children.get(out[i] as number) ?? []));
  return out;
}

/** CPU (user + system) spent so far by the tree under `root`, in ms. */
export function treeCpuMs(root: number): number {
  let ticks = 0;
  for (const pid of processTree(root)) ticks += readStat(pid)?.ticks ?? 0;
  return ticks * clockTickMs();
}

/**
 * CPU spent so far by the tree under `root` including the children its members have already
 * reaped (cutime + cstime, fields 16 and 17): a daemon that exited between two readings still
 * counts, in its parent's figure. For a family such as Postfix's master and its daemons.
 */
export function treeCpuWithReapedMs(root: number): number {
  let ticks = 0;
  for (const pid of processTree(root)) {
    const s = readStat(pid);
    if (s) ticks += s.ticks + s.reapedTicks;
  }
  return ticks * clockTickMs();
}

/** Summed VmHWM (KiB) of the tree under `root`: exact for one process, an upper bound for a family. */
export function treePeakRssKb(root: number): { kb: number; processes: number } {
  let kb = 0;
  const pids = processTree(root);
  for (const pid of pids) {
    try {
      const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
      if (m?.[1]) kb += Number(m[1]);
    } catch {
      /* gone */
    }
  }
  return { kb, processes: pids.length };
}
