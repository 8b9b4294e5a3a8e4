/**
 * The master link benchmark's simulated scanners seen from the benchmark: a few processes
 * (lib/sim-scanner.ts), each holding any number of nodes; which process holds which node, and
 * joining and leaving nodes to and from a master (with a join token that master minted: masters
 * on one database share them, so a token minted on one master is good on any of them).
 */
import { join } from 'node:path';
import { spawnRpcChild, type RpcChild } from './ipc-rpc.ts';

export interface SimFleet {
  readonly procs: readonly RpcChild[];
  /** Which process holds each linked node. */
  readonly owner: Map<string, RpcChild>;
}

export async function startSimFleet(count: number, here: string, logDir: string): Promise<SimFleet> {
  const procs = Array.from({ length: count }, (_, i) => spawnRpcChild(`sim-${i}`, join(here, 'sim-scanner.ts'), [], logDir));
  await Promise.all(procs.map((p) => p.call('errors', {}, 30_000))); // started and serving
  return { procs, owner: new Map() };
}

/** The named (linked) nodes grouped by the process that holds them. */
export function byOwner(fleet: SimFleet, names: readonly string[]): [RpcChild, string[]][] {
  const by = new Map<RpcChild, string[]>();
  for (const n of names) {
    const p = fleet.owner.get(n);
    if (!p) throw new Error(`simulated node ${n} is not linked`);
    by.set(p, [...(by.get(p) ?? []), n]);
  }
  return [...by];
}

/** Links `names` to the master at `wsUrl`, spread round-robin over the processes. */
export async function linkNodes(fleet: SimFleet, names: readonly string[], wsUrl: string, tokens: Record<string, string>): Promise<void> {
  const by = new Map<RpcChild, string[]>();
  names.forEach((n, i) => {
    const p = fleet.procs[i % fleet.procs.length]!;
    by.set(p, [...(by.get(p) ?? []), n]);
  });
  await Promise.all([...by].map(([p, list]) => p.call('connect', { url: wsUrl, names: list, tokens, timeoutMs: 20_000 }, 60_000)));
  for (const [p, list] of by) for (const n of list) fleet.owner.set(n, p);
}

export async function unlinkNodes(fleet: SimFleet, names: readonly string[]): Promise<void> {
  await Promise.all(byOwner(fleet, names).map(([p, list]) => p.call('disconnect', { names: list }, 15_000)));
  for (const n of names) fleet.owner.delete(n);
}

/** What the simulated scanners found wrong (invalid frames, closed links, unexpected frames). */
export async function fleetErrors(fleet: SimFleet): Promise<string[]> {
  return (await Promise.all(fleet.procs.map((p) => p.call<string[]>('errors', {}, 10_000)))).flat();
}

export async function stopSimFleet(fleet: SimFleet): Promise<void> {
  await Promise.all(fleet.procs.map((p) => p.stop()));
}
