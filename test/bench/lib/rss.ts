/**
 * Peak memory of a server under test. For one process: its VmHWM (the kernel's exact peak
 * resident set) read from /proc/PID/status before it stops. For a family of processes
 * (Postfix's master and its daemons): the peak of the summed VmRSS of the whole process tree,
 * sampled every `intervalMs` (shared pages such as libc are counted once per process, so it
 * over-states what the family costs; a spike shorter than the interval can be missed).
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface RssResult {
  /** Peak in KiB. */
  peakKb: number;
  /** Most processes seen at once in the tree (1 = single process, peak is VmHWM). */
  processes: number;
  method: 'VmHWM' | 'sampled sum of VmRSS';
}

function statusField(pid: number, field: 'VmHWM' | 'VmRSS'): number | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'latin1');
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
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
  private treePeakKb = 0;
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
    let sum = 0;
    let n = 0;
    for (const pid of pids) {
      const kb = statusField(pid, 'VmRSS');
      if (kb !== undefined) {
        sum += kb;
        n++;
      }
    }
    if (sum > this.treePeakKb) this.treePeakKb = sum;
    if (n > this.maxProcesses) this.maxProcesses = n;
  }

  /** Stops sampling and returns the peak; call while the processes are still running. */
  finish(): RssResult {
    this.sample();
    clearInterval(this.timer);
    const hwm = statusField(this.rootPid, 'VmHWM') ?? 0;
    if (this.maxProcesses <= 1) return { peakKb: Math.max(hwm, this.treePeakKb), processes: 1, method: 'VmHWM' };
    return { peakKb: Math.max(hwm, this.treePeakKb), processes: this.maxProcesses, method: 'sampled sum of VmRSS' };
  }
}
