/**
 * Peak memory of a server under test.
 * - One process (the scanner, the bare sink): its VmHWM, the kernel's exact peak resident set,
 *   read from /proc/PID/status before it stops.
 * - A family of processes (Postfix's master and its daemons): the peak of the summed PSS
 *   (proportional set size from /proc/PID/smaps_rollup: a page shared by k processes counts
 *   1/k in each, so the sum is what the family really holds) of the whole process tree,
 *   sampled every `intervalMs`. A spike shorter than the interval can be missed. The peak sum
 *   of plain VmRSS (which counts shared libraries once per process) is kept for the log.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface RssResult {
  /** Peak in KiB (VmHWM for one process, summed PSS for a family). */
  peakKb: number;
  /** Most processes seen at once in the tree (1 = single process, peak is VmHWM). */
  processes: number;
  method: 'VmHWM' | 'sampled sum of PSS';
  /** Family only: peak of the summed VmRSS. */
  rssSumKb?: number;
}

function field(file: string, name: string): number | undefined {
  try {
    const text = readFileSync(file, 'latin1');
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
    return m?.[1] ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

function parentMap(): Map<number, number[]> {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    } catch {
      continue;
    }
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (rest[0] === 'Z') continue;
    const ppid = Number(rest[1]);
    const list = children.get(ppid);
    if (list) list.push(pid);
    else children.set(ppid, [pid]);
  }
  return children;
}

function tree(root: number): number[] {
  const children = parentMap();
  const out = [root];
  for (let i = 0; i < out.length; i++) out.push(...(children.get(out[i] as number) ?? []));
  return out;
}

export class RssMonitor {
  private timer: NodeJS.Timeout | undefined;
  private pssPeakKb = 0;
  private rssPeakKb = 0;
  private maxProcesses = 1;
  private readonly rootPid: number;

  constructor(rootPid: number, intervalMs = 200) {
    this.rootPid = rootPid;
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  private sample(): void {
    const pids = tree(this.rootPid);
    if (pids.length <= 1) return; // one process: VmHWM at the end says it exactly
    let pss = 0;
    let rss = 0;
    let n = 0;
    for (const pid of pids) {
      const p = field(`/proc/${pid}/smaps_rollup`, 'Pss');
      const r = field(`/proc/${pid}/status`, 'VmRSS');
      if (p === undefined || r === undefined) continue;
      pss += p;
      rss += r;
      n++;
    }
    if (pss > this.pssPeakKb) this.pssPeakKb = pss;
    if (rss > this.rssPeakKb) this.rssPeakKb = rss;
    if (n > this.maxProcesses) this.maxProcesses = n;
  }

  /** Stops sampling and returns the peak; call while the processes are still running. */
  finish(): RssResult {
    this.sample();
    clearInterval(this.timer);
    const hwm = field(`/proc/${this.rootPid}/status`, 'VmHWM') ?? 0;
    if (this.maxProcesses <= 1) return { peakKb: hwm, processes: 1, method: 'VmHWM' };
    return { peakKb: this.pssPeakKb, processes: this.maxProcesses, method: 'sampled sum of PSS', rssSumKb: this.rssPeakKb };
  }
}
