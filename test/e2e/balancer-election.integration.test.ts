import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { masterDownMs } from '@moat/balancer';
import { startDownstream } from '../helpers/downstream.ts';
import { freePort } from '../helpers/ports.ts';
import { spawnMoat, type MoatProcess } from '../helpers/scanner-process.ts';
import { message, sendMail } from '../helpers/smtp-client.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { sleep, waitUntil } from '../helpers/wait.ts';

/**
 * The election with real processes: three `moat balancer` nodes, priorities 200/100/50, each
 * advertising from its own 127.0.0.N; the virtual address is a loopback listener on
 * 127.0.0.100. `kill -9` of the holder, a restart with `preempt: false` (stays backup) and
 * with preempt (takes the address back), then a graceful stop. State is read from each
 * node's status endpoint and its log lines; the only time bound is the protocol's own
 * (master-down interval + one advert) with generous slack, as the two cores are shared.
 */
const VIP = '127.0.0.100';
const KEY = 'e2e-election-key-0123456789';
const INTERVAL_MS = 200;
const SLACK_MS = 3000;
const NODES = [
  { name: 'n200', host: '127.0.0.51', priority: 200 },
  { name: 'n100', host: '127.0.0.52', priority: 100 },
  { name: 'n50', host: '127.0.0.53', priority: 50 },
] as const;

interface Status {
  holder: boolean;
  election: { state: string; master: string | null; effectivePriority: number; counters: { received: number } };
}

async function statusOf(p: MoatProcess): Promise<Status> {
  const res = await fetch(`http://${String(p.ready.status)}/status`);
  return (await res.json()) as Status;
}

const transitions = (p: MoatProcess) => p.logs.filter((l) => l.event === 'ha.transition') as Array<{ from: string; to: string; reason: string; time: string }>;

test('3 balancer processes 200/100/50: kill -9 the holder → 100 holds the address; restart 200 without preempt → stays backup, with preempt → takes over', async (t) => {
  const tmp = tempDir('lb-election');
  const downstream = await startDownstream();
  const vipPort = await freePort();
  const udp = await Promise.all(NODES.map(() => freePort()));
  const configFile = (i: number, preempt = true): string => {
    const n = NODES[i]!;
    const file = join(tmp.path, `${n.name}-${preempt}.yaml`);
    writeFileSync(file, stringify({
      listen: { host: VIP, port: vipPort },
      proxyProtocol: 'off',
      upstreams: [{ name: 'downstream', host: '127.0.0.1', port: downstream.port }],
      status: { host: '127.0.0.1', port: 0 },
      election: {
        nodeId: n.name, vrid: 11, priority: n.priority, preempt, advertIntervalMs: INTERVAL_MS, key: KEY,
        bind: { host: n.host, port: udp[i] },
        peers: NODES.map((p, j) => ({ host: p.host, port: udp[j] })).filter((_, j) => j !== i),
      },
    }));
    return file;
  };
  const start = (i: number, preempt = true) => spawnMoat(['balancer', '--config', configFile(i, preempt)], 'lb.started');
  const procs: MoatProcess[] = [];
  const alive = () => procs.filter((p) => p.child.exitCode === null && p.child.signalCode === null);
  const send = (subject: string) => sendMail(vipPort, { from: 'a@origin.test', to: ['user@example.test'] }, message({ subject }), VIP);
  const holders = async (ps: MoatProcess[]) => (await Promise.all(ps.map(statusOf))).map((s, i) => (s.holder ? i : -1)).filter((i) => i >= 0);

  try {
    const [p200, p100, p50] = await Promise.all([start(0), start(1), start(2)]);
    procs.push(p200!, p100!, p50!);
    let heldBy: number[] = [];
    await waitUntil(async () => (heldBy = await holders([p200!, p100!, p50!])).length === 1 && heldBy[0] === 0, 'the 200 node holds the address');
    assert.ok((await send('via-200')).ok, 'SMTP through the address held by 200');

    // kill -9 the holder: no resign advert, the 100 node's master-down timer must run out.
    const killedAt = Date.now();
    await p200!.kill9();
    await waitUntil(async () => (await statusOf(p100!)).holder, 'the 100 node holds the address', 20_000);
    // The status answers before the parent has read the child's log line: wait for the line.
    let takeover: ReturnType<typeof transitions>[number] | undefined;
    await waitUntil(() => (takeover = transitions(p100!).find((x) => x.to === 'master' && Date.parse(x.time) >= killedAt)) !== undefined, 'the 100 node logs its takeover', 10_000);
    assert.equal(takeover?.reason, 'master-down timer');
    const tookMs = Date.parse(takeover!.time) - killedAt;
    const bound = masterDownMs(100, INTERVAL_MS) + INTERVAL_MS;
    t.diagnostic(`takeover ${tookMs} ms after kill -9 (master-down interval + one advert = ${bound} ms)`);
    assert.ok(tookMs <= bound + SLACK_MS, `took ${tookMs} ms; protocol bound ${bound} ms + ${SLACK_MS} ms slack`);
    // (At start-up the first node up may hold the address briefly until the 200 preempts it.)
    assert.equal(transitions(p50!).filter((x) => x.to === 'master' && Date.parse(x.time) >= killedAt).length, 0, 'the 50 node did not become master');
    assert.equal((await statusOf(p50!)).election.master, NODES[1].host, 'the 50 node follows the 100');
    assert.ok((await send('via-100')).ok, 'SMTP through the address again, now held by 100');

    // Restart the 200 with preempt off: it hears the 100 master and stays backup.
    const noPreempt = await start(0, false);
    procs.push(noPreempt);
    await waitUntil(async () => (await statusOf(noPreempt)).election.counters.received >= 3, 'the restarted 200 hears the 100 master');
    const mdi200 = masterDownMs(200, INTERVAL_MS);
    const heardBefore = (await statusOf(noPreempt)).election.counters.received;
    await sleep(3 * mdi200); // three of its own master-down intervals: with preempt it would have taken over
    const np = await statusOf(noPreempt);
    assert.equal(np.election.state, 'backup', 'preempt: false → stays backup');
    assert.equal(np.election.master, NODES[1].host);
    assert.ok(np.election.counters.received > heardBefore, 'still hearing the 100 master');
    assert.deepEqual(await holders([noPreempt, p100!, p50!]), [1], 'the 100 node still holds the address');
    await noPreempt.kill9();

    // Restart it with preempt: it discards the weaker master's adverts and takes over.
    const preempting = await start(0, true);
    procs.push(preempting);
    await waitUntil(async () => (await holders([preempting, p100!, p50!])).join() === '0', 'the 200 node takes the address back', 20_000);
    await waitUntil(() => /higher priority advert from 127\.0\.0\.51/.test(transitions(p100!).filter((x) => x.from === 'master' && x.to === 'backup').at(-1)?.reason ?? ''), 'the 100 node logs that it stepped down for the 200', 10_000);
    assert.ok((await send('via-200-again')).ok, 'SMTP through the address after the preemption');

    // Graceful stop (SIGTERM): the 200 resigns with a priority-0 advert; the 100 takes over after its skew.
    assert.equal(await preempting.stop(), 0);
    await waitUntil(async () => (await statusOf(p100!)).holder, 'the 100 node holds the address after the graceful stop', 20_000);
    await waitUntil(() => transitions(p100!).filter((x) => x.to === 'master').at(-1)?.reason === 'master resigned', 'the 100 node logs the takeover after the resignation', 10_000);
    assert.ok((await send('after-resign')).ok);
    await downstream.waitFor(4);
    assert.deepEqual(downstream.received.map((m) => /^Subject: (\S+)/m.exec(m.raw.toString())?.[1]), ['via-200', 'via-100', 'via-200-again', 'after-resign']);
  } finally {
    await Promise.all(alive().map((p) => p.kill9()));
    await downstream.close();
    tmp.cleanup();
  }
});
