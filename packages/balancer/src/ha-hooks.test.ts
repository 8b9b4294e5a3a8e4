import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { startBalancer, type BalancerHandle } from './balancer.ts';
import { validateBalancerConfig } from './config.ts';
import { runHookCommand, type HookContext } from './hook-command.ts';
import { fakeUpstream, freePort, memoryLog, smtpSession, waitFor, type FakeUpstream } from './test-helpers.ts';

/**
 * Hook commands (real /bin/sh) and FAULT through a tracker (a real upstream killed and
 * restarted), on loopback: the virtual address is 127.0.0.100, hooks append to a file.
 */
const VIP = '127.0.0.100';
const KEY = 'hook-test-key-0123456789';
const tmp = mkdtempSync(join(tmpdir(), 'moat-ha-hooks-'));
const handles = new Set<BalancerHandle>();
const ups: FakeUpstream[] = [];
after(async () => {
  await Promise.all([...handles].map((h) => h.close({ abrupt: true })));
  await Promise.all(ups.map((u) => u.kill().catch(() => {})));
  rmSync(tmp, { recursive: true, force: true });
});

const ctx: HookContext = { state: 'master', previousState: 'backup', reason: 'test', vip: VIP, vipPort: 2500, priority: 100, vrid: 7, nodeId: 'n1' };
const lines = (file: string): string[] => (existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean) : []);
const RECORD = (file: string) => `printf '%s|%s|%s|%s|%s|%s|%s\\n' "$MOAT_HA_STATE" "$MOAT_HA_PREVIOUS_STATE" "$MOAT_HA_VIP" "$MOAT_HA_VIP_PORT" "$MOAT_HA_PRIORITY" "$MOAT_HA_NODE_ID" "$MOAT_HA_REASON" >> '${file}'`;

test('hook command: env carries the state and address; exit code and stderr are logged', async () => {
  const file = join(tmp, 'env.txt');
  const log = memoryLog();
  assert.deepEqual(await runHookCommand(RECORD(file), ctx, 5000, log), { ok: true });
  assert.deepEqual(lines(file), [`master|backup|${VIP}|2500|100|n1|test`]);
  assert.equal(log.events.at(-1)?.event, 'ha.hook_ok');

  const failed = await runHookCommand('echo boom >&2; exit 3', ctx, 5000, log);
  assert.deepEqual(failed, { ok: false, reason: 'exit', detail: 'exit code 3' });
  const ev = log.events.at(-1)!;
  assert.equal(ev.event, 'ha.hook_failed');
  assert.equal(ev.level, 'error');
  assert.match(String(ev.stderr), /boom/);
});

test('hook command: a hook over its time-out is killed with what it started', async () => {
  const pidFile = join(tmp, 'sleeper.pid');
  const log = memoryLog();
  const r = await runHookCommand(`sleep 30 & echo $! > '${pidFile}'; wait`, ctx, 300, log);
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.reason, 'timeout');
  assert.equal(log.events.at(-1)?.event, 'ha.hook_timeout');
  const pid = Number(readFileSync(pidFile, 'utf8'));
  assert.ok(await waitFor(() => {
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  }, 5000), 'the background sleep died with the hook');
});

async function node(opts: {
  name: string; host: string; priority: number; udp: number; peers: Array<{ host: string; port: number }>; vipPort: number;
  upstreams: FakeUpstream[]; track: Array<{ upstream: string; weight?: number }>; hooks?: Record<string, unknown>;
}) {
  const log = memoryLog();
  const h = await startBalancer(validateBalancerConfig({
    listen: { host: VIP, port: opts.vipPort },
    proxyProtocol: 'off',
    upstreams: opts.upstreams.map((u) => ({ name: u.name, host: '127.0.0.1', port: u.port })),
    healthCheck: { type: 'tcp', intervalMs: 50, rise: 2, fall: 2, timeoutMs: 500 },
    election: {
      nodeId: opts.name, vrid: 7, priority: opts.priority, advertIntervalMs: 100, key: KEY,
      bind: { host: opts.host, port: opts.udp }, peers: opts.peers, track: opts.track, hooks: opts.hooks ?? {},
    },
  }), { log });
  handles.add(h);
  return Object.assign(h, { log });
}

test('FAULT: the tracked own scanner dies → the holder gives up the address (fault hook); it recovers → master again', async () => {
  const own = await fakeUpstream('own', 'smtp', { proxy: false });
  const other = await fakeUpstream('other', 'smtp', { proxy: false });
  ups.push(own, other);
  const file = join(tmp, 'states.txt');
  const vipPort = await freePort(VIP, false);
  const udp = await freePort('127.0.0.21', true);
  const hook = RECORD(file);
  const n = await node({
    name: 'solo', host: '127.0.0.21', priority: 100, udp, peers: [{ host: '127.0.0.22', port: udp }], vipPort,
    upstreams: [own, other], track: [{ upstream: 'own' }], hooks: { master: hook, backup: hook, fault: hook },
  });
  assert.ok(await waitFor(() => n.status().holder), 'holder after its master-down interval');
  assert.ok(await waitFor(() => lines(file).length >= 2));
  assert.deepEqual(lines(file), [
    `backup|init|${VIP}|${vipPort}|100|solo|startup`,
    `master|backup|${VIP}|${vipPort}|100|solo|master-down timer`,
  ]);
  assert.match((await smtpSession(vipPort, VIP)).greeting, /^220 /);

  await own.kill();
  assert.ok(await waitFor(() => n.status().election?.state === 'fault'), 'fault after `fall` failed checks');
  assert.ok(await waitFor(() => !n.status().holder), 'listener closed');
  assert.ok(await waitFor(() => lines(file).length >= 3));
  assert.deepEqual(lines(file)[2], `fault|master|${VIP}|${vipPort}|100|solo|tracked check failed: own`);
  assert.match((await smtpSession(vipPort, VIP, undefined, 2000)).greeting, /^$/, 'nobody answers on the address');
  assert.deepEqual(n.status().election?.trackers, { own: false });
  assert.ok(n.log.events.some((e) => e.event === 'ha.transition' && e.to === 'fault'));

  await own.restart();
  assert.ok(await waitFor(() => n.status().holder), 'master again after `rise` checks and a master-down interval');
  assert.ok(await waitFor(() => lines(file).length >= 5));
  assert.deepEqual(lines(file).slice(3).map((l) => l.split('|').slice(0, 2).join('|')), ['backup|fault', 'master|backup']);
  assert.match((await smtpSession(vipPort, VIP)).greeting, /^220 /);

  // A graceful stop runs the stop hook (here: the backup command, as no `stop` is set).
  await n.close();
  handles.delete(n);
  assert.deepEqual(lines(file).at(-1), `init|master|${VIP}|${vipPort}|100|solo|shutdown`);
});

test('a tracker with a negative weight lowers the priority: the 100 node preempts, and gives back on recovery', async () => {
  const own = await fakeUpstream('own-a', 'smtp', { proxy: false });
  ups.push(own);
  const vipPort = await freePort(VIP, false);
  const [ua, ub] = [await freePort('127.0.0.31', true), await freePort('127.0.0.32', true)];
  const a = await node({ name: 'a', host: '127.0.0.31', priority: 200, udp: ua, peers: [{ host: '127.0.0.32', port: ub }], vipPort, upstreams: [own], track: [{ upstream: 'own-a', weight: -150 }] });
  const b = await node({ name: 'b', host: '127.0.0.32', priority: 100, udp: ub, peers: [{ host: '127.0.0.31', port: ua }], vipPort, upstreams: [own], track: [] });
  assert.ok(await waitFor(() => a.status().election?.state === 'master' && b.status().election?.state === 'backup'));
  await own.kill();
  assert.ok(await waitFor(() => a.status().election?.effectivePriority === 50));
  assert.ok(await waitFor(() => b.status().election?.state === 'master' && a.status().election?.state === 'backup'), 'b preempts the lowered a');
  assert.ok(a.log.events.some((e) => e.event === 'ha.priority_changed' && e.effectivePriority === 50));
  await own.restart();
  assert.ok(await waitFor(() => a.status().election?.state === 'master' && b.status().election?.state === 'backup'), 'a preempts back at 200');
});

test('a command tracker (exit 0 passes) puts the holder in FAULT while it fails, without active checks', async () => {
  const up = await fakeUpstream('cmd-up', 'smtp', { proxy: false });
  ups.push(up);
  const flag = join(tmp, 'healthy.flag');
  writeFileSync(flag, 'ok');
  const vipPort = await freePort(VIP, false);
  const udp = await freePort('127.0.0.41', true);
  const log = memoryLog();
  const h = await startBalancer(validateBalancerConfig({
    listen: { host: VIP, port: vipPort }, proxyProtocol: 'off',
    upstreams: [{ name: 'cmd-up', host: '127.0.0.1', port: up.port }],
    election: {
      nodeId: 'cmd', vrid: 8, priority: 100, advertIntervalMs: 100, key: KEY,
      bind: { host: '127.0.0.41', port: udp }, peers: [{ host: '127.0.0.42', port: udp }],
      track: [{ name: 'flag', command: `test -f '${flag}'`, intervalMs: 100, rise: 1, fall: 2 }],
    },
  }), { log });
  handles.add(h);
  assert.ok(await waitFor(() => h.status().holder));
  rmSync(flag);
  assert.ok(await waitFor(() => h.status().election?.state === 'fault'), 'fault after two failed runs');
  assert.ok(!h.status().holder);
  assert.ok(log.events.some((e) => e.event === 'ha.track_down' && e.track === 'flag' && e.reason === 'exit code 1'));
  assert.equal(h.status().election?.lastTransition?.reason, 'tracked check failed: flag');
  writeFileSync(flag, 'ok');
  assert.ok(await waitFor(() => h.status().holder), 'back to master once the command passes');
  assert.ok(log.events.some((e) => e.event === 'ha.track_up' && e.track === 'flag'));
});

test('config: tracker names are unique; command trackers need no active checks', () => {
  const base = {
    upstreams: [{ name: 'u', host: '127.0.0.1', port: 1 }],
    election: { nodeId: 'n', bind: { host: '127.0.0.1', port: 1 }, peers: [{ host: '127.0.0.2', port: 1 }], key: KEY },
  };
  const c = validateBalancerConfig({ ...base, election: { ...base.election, track: [{ name: 'gw', command: 'ping -c1 -W1 192.0.2.1' }] } });
  const t = c.election!.track[0]!;
  assert.ok(t.command !== undefined && t.intervalMs === 2000 && t.timeoutMs === 1000 && t.rise === 2 && t.fall === 2 && t.weight === 0);
  assert.throws(() => validateBalancerConfig({ ...base, healthCheck: { type: 'tcp' }, election: { ...base.election, track: [{ upstream: 'u' }, { name: 'u', command: 'true' }] } }), /election.track.1: tracker u listed twice/);
  const bad = (track: unknown[]) => () => validateBalancerConfig({ ...base, healthCheck: { type: 'tcp' }, election: { ...base.election, track } });
  assert.throws(bad([{ upstream: 'u', bogus: 1 }]), /^ConfigError: balancer: election.track.0.bogus: unknown key$/);
  assert.throws(bad([{ weight: -5 }]), /election.track.0: give either upstream or command/);
  assert.throws(bad([{ upstream: 'u', command: 'true', name: 'x' }]), /election.track.0: give either upstream or command/);
  assert.throws(bad([{ command: 'true' }]), /election.track.0.name: required with command/);
  assert.throws(bad([{ upstream: 'u', name: 'x' }]), /election.track.0.name: only for command checks/);
});
