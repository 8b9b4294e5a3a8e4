/**
 * Simulated scanners for the master link benchmark: one process holding any number of cluster
 * nodes, each a `ws` client speaking the real protocol (@moat/protocol frames, validated with
 * decodeToScanner): challenge → hello with the join-secret proof → welcome; heartbeats every
 * heartbeatMs from welcome; every rules.push answered at once with rules.ack {ok: true} (and the
 * end users' lists and learn events acknowledged, the verification sources taken); events
 * sent as events.batch with one batch in flight per node, the next one after its events.ack,
 * as apps/scanner/src/link/cluster-link.ts does. No SMTP, no disk: only the link.
 *
 * Started by master-link-bench.ts with an IPC channel (lib/ipc-rpc.ts); commands below.
 * Times are epoch milliseconds with sub-millisecond resolution (performance.timeOrigin + now).
 */
import { cpuUsage } from 'node:process';
import WebSocket from 'ws';
import { decodeToScanner, encodeFrame, helloSignature, newNodeKeyPair, MAX_FRAME_BYTES, PROTOCOL_VERSION, type ToMaster, type ToScanner } from '@moat/protocol';
import { serveRpc } from './ipc-rpc.ts';
import { epochMs, nodeBatches } from './sim-events.ts';

interface PushSeen {
  readonly at: number;
  readonly ackAt: number;
}

interface Prepared {
  readonly frames: string[];
  readonly lastSeqs: number[];
  readonly events: number;
}

const errors: string[] = [];
const fail = (msg: string): void => {
  if (errors.length < 50) errors.push(msg);
  process.stderr.write(`${msg}\n`);
};

class SimNode {
  readonly name: string;
  nodeId = '';
  rulesVersion = 0;
  ws: WebSocket | undefined;
  closing = false;
  readonly pushes = new Map<number, PushSeen>();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  /** Sent heartbeats not yet answered, oldest first: the master answers each one, in order. */
  private readonly heartbeats: { probe: boolean }[] = [];
  private probeDone: ((at: number) => void) | undefined;
  private ackWait: { id: string; done(upToSeq: number): void; failed(e: Error): void } | undefined;
  private pushWaiters: (() => void)[] = [];
  backlog = 0;

  constructor(name: string) {
    this.name = name;
  }

  /** Its own node key, as a real scanner has (the master keeps the public half). */
  private readonly key = newNodeKeyPair();

  connect(url: string, joinToken: string, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`${this.name}: no welcome within ${timeoutMs} ms`));
        ws.terminate();
      }, timeoutMs);
      const ws = new WebSocket(url, { maxPayload: MAX_FRAME_BYTES, handshakeTimeout: timeoutMs, perMessageDeflate: false });
      this.ws = ws;
      ws.on('message', (data: Buffer) => {
        let frame: ToScanner;
        try {
          frame = decodeToScanner(data);
        } catch (err) {
          fail(`${this.name}: invalid frame from the master: ${(err as Error).message}`);
          ws.close(1008, 'invalid frame');
          return;
        }
        if (frame.type === 'challenge') {
          this.send({
            type: 'hello', protocol: PROTOCOL_VERSION, nodeName: this.name, joinToken, publicKey: this.key.publicKey, proof: helloSignature(this.key.privateKeyPem, this.name, frame.nonce),
            software: 'moat-sim-scanner/1', rulesVersion: this.rulesVersion, smtpAddress: '127.0.0.1:25',
          });
        } else if (frame.type === 'welcome') {
          clearTimeout(timer);
          this.nodeId = frame.nodeId;
          this.startHeartbeat(frame.heartbeatMs);
          resolve();
        } else {
          this.onFrame(frame);
        }
      });
      ws.on('close', (code, reason) => {
        clearTimeout(timer);
        clearInterval(this.heartbeatTimer);
        const why = `${this.name}: link closed (${code} ${reason.toString().slice(0, 200)})`;
        this.ackWait?.failed(new Error(why));
        this.ackWait = undefined;
        if (!this.closing) fail(why);
        reject(new Error(why));
      });
      ws.on('error', (err) => {
        if (!this.closing) fail(`${this.name}: socket error: ${err.message}`);
      });
    });
  }

  private send(frame: ToMaster): void {
    this.sendRaw(encodeFrame(frame));
  }

  private sendRaw(text: string): void {
    if (this.ws?.readyState !== WebSocket.OPEN) throw new Error(`${this.name}: link is not open`);
    this.ws.send(text);
  }

  private startHeartbeat(ms: number): void {
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = setInterval(() => {
      if (this.ws?.readyState !== WebSocket.OPEN) return;
      this.heartbeats.push({ probe: false });
      this.send({ type: 'heartbeat', at: Date.now(), queueDepth: 0, outboxBacklog: this.backlog, rulesVersion: this.rulesVersion });
    }, ms);
  }

  private onFrame(frame: ToScanner): void {
    switch (frame.type) {
      case 'rules.push': {
        const at = epochMs();
        // A real scanner validates and stores the document first; here only the link is measured.
        this.rulesVersion = frame.version;
        this.send({ type: 'rules.ack', version: frame.version, ok: true });
        this.pushes.set(frame.version, { at, ackAt: epochMs() });
        const waiters = this.pushWaiters;
        this.pushWaiters = [];
        for (const w of waiters) w();
        return;
      }
      case 'heartbeat': {
        const at = epochMs();
        const sent = this.heartbeats.shift();
        if (!sent) return fail(`${this.name}: heartbeat from the master that answers nothing`);
        if (sent.probe) {
          this.probeDone?.(at);
          this.probeDone = undefined;
        }
        return;
      }
      case 'events.ack': {
        const w = this.ackWait;
        if (!w || w.id !== frame.id) return fail(`${this.name}: events.ack for ${frame.id}, not the batch in flight`);
        this.ackWait = undefined;
        w.done(frame.upToSeq);
        return;
      }
      // Pushed at the welcome, and again by each master at every (re)connect of its change
      // notices (db/change-notices.ts): taken as a real scanner takes them, without the work.
      case 'verify.sources':
        return;
      case 'recipient-lists.push':
        this.send({ type: 'recipient-lists.ack', version: frame.version, ok: true });
        return;
      case 'learn.event':
        this.send({ type: 'learn.ack', seq: frame.seq });
        return;
      case 'error':
        return fail(`${this.name}: master sent error ${frame.code}: ${frame.message}`);
      default:
        // quarantine.fetch, queue.list, …: never sent in this benchmark.
        if ('id' in frame) this.send({ type: 'result', id: frame.id, ok: false, code: 'MOAT_ERR_NOT_SUPPORTED', message: 'simulated scanner' });
        return fail(`${this.name}: unexpected ${frame.type} from the master`);
    }
  }

  /** Sends a heartbeat now; resolves with the time its answer arrived. */
  probe(): Promise<number> {
    if (this.probeDone) return Promise.reject(new Error(`${this.name}: probe already in flight`));
    return new Promise<number>((resolve) => {
      this.probeDone = resolve;
      this.heartbeats.push({ probe: true });
      this.send({ type: 'heartbeat', at: Date.now(), queueDepth: 0, outboxBacklog: this.backlog, rulesVersion: this.rulesVersion });
    });
  }

  /** One events.batch (already encoded) and its ack. */
  sendBatch(id: string, frame: string, timeoutMs: number): Promise<number> {
    if (this.ackWait) return Promise.reject(new Error(`${this.name}: batch already in flight`));
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.ackWait = undefined;
        reject(new Error(`${this.name}: no events.ack for batch ${id} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.ackWait = {
        id,
        done: (upToSeq) => {
          clearTimeout(timer);
          resolve(upToSeq);
        },
        failed: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.sendRaw(frame);
    });
  }

  waitPush(version: number, timeoutMs: number): Promise<void> {
    if (this.pushes.has(version)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: no rules.push of version ${version} within ${timeoutMs} ms`)), timeoutMs);
      const check = (): void => {
        if (this.pushes.has(version)) {
          clearTimeout(timer);
          resolve();
        } else this.pushWaiters.push(check);
      };
      this.pushWaiters.push(check);
    });
  }

  close(): Promise<void> {
    this.closing = true;
    clearInterval(this.heartbeatTimer);
    const ws = this.ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        ws.terminate();
        resolve();
      }, 2000);
      ws.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      ws.close(1000, 'simulated scanner done');
    });
  }
}

const nodes = new Map<string, SimNode>();
const prepared = new Map<string, Map<string, Prepared>>();

const node = (name: string): SimNode => {
  const n = nodes.get(name);
  if (!n) throw new Error(`no simulated node ${name}`);
  return n;
};

serveRpc({
  /**
   * Links the named nodes to the master at `url`, `concurrency` at a time: the master refuses
   * more than a few dozen sockets from one address still waiting for their hello
   * (cluster/link-admission.ts), and every simulated scanner comes from 127.0.0.1.
   */
  async connect(a: { url: string; names: string[]; tokens: Record<string, string>; timeoutMs: number; concurrency?: number }) {
    const list = a.names.map((name) => {
      if (nodes.has(name)) throw new Error(`node ${name} exists already`);
      const n = new SimNode(name);
      nodes.set(name, n);
      return n;
    });
    const step = a.concurrency ?? 8;
    for (let i = 0; i < list.length; i += step) {
      await Promise.all(list.slice(i, i + step).map((n) => n.connect(a.url, a.tokens[n.name]!, a.timeoutMs)));
    }
    return list.map((n) => ({ name: n.name, nodeId: n.nodeId }));
  },

  async disconnect(a: { names: string[] }) {
    await Promise.all(a.names.map((name) => node(name).close()));
    for (const name of a.names) nodes.delete(name);
    return a.names.length;
  },

  /** Builds and encodes the batches of a run ahead of time, so the run times only the link. */
  prepare(a: { key: string; nodes: { name: string; index: number }[]; fromSeq: number; batches: number; batch: number }) {
    const byNode = new Map<string, Prepared>();
    let events = 0;
    for (const { name, index } of a.nodes) {
      node(name);
      const batches = nodeBatches(index, a.fromSeq, a.batches, a.batch);
      byNode.set(name, {
        frames: batches.map((events, i) => encodeFrame({ type: 'events.batch', id: `${a.key}-${name}-${i}`, events })),
        lastSeqs: batches.map((b) => b[b.length - 1]!.seq),
        events: a.batches * a.batch,
      });
      events += a.batches * a.batch;
    }
    prepared.set(a.key, byNode);
    return { events, bytes: [...byNode.values()].reduce((s, p) => s + p.frames.reduce((t, f) => t + Buffer.byteLength(f), 0), 0) };
  },

  /** Every prepared node drains its batches in parallel, one batch in flight each. */
  async run(a: { key: string; ackTimeoutMs: number }) {
    const byNode = prepared.get(a.key);
    if (!byNode) throw new Error(`nothing prepared under ${a.key}`);
    const rtts: number[] = [];
    const cpu0 = cpuUsage();
    const t0 = epochMs();
    let acked = 0;
    await Promise.all(
      [...byNode.entries()].map(async ([name, p]) => {
        const n = node(name);
        n.backlog = p.events;
        for (let i = 0; i < p.frames.length; i++) {
          const s = epochMs();
          const upTo = await n.sendBatch(`${a.key}-${name}-${i}`, p.frames[i]!, a.ackTimeoutMs);
          rtts.push(epochMs() - s);
          if (upTo !== p.lastSeqs[i]) throw new Error(`${name}: events.ack upToSeq ${upTo}, expected ${p.lastSeqs[i]}`);
          const size = p.events / p.frames.length;
          acked += size;
          n.backlog -= size;
        }
      }),
    );
    const t1 = epochMs();
    const cpu = cpuUsage(cpu0);
    prepared.delete(a.key);
    return { t0, t1, acked, rtts, cpuMs: (cpu.user + cpu.system) / 1000 };
  },

  /** Heartbeat round trip of every named node, all sent in one go. */
  async probe(a: { names: string[]; timeoutMs: number }) {
    const list = a.names.map(node);
    const t0 = epochMs();
    const answers = list.map((n) => n.probe());
    const sentAt = epochMs();
    let timer: NodeJS.Timeout | undefined;
    const answered = await Promise.race([
      Promise.all(answers),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`heartbeat probe not answered within ${a.timeoutMs} ms`)), a.timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
    return { t0, sentAt, answered };
  },

  async waitPushes(a: { names: string[]; version: number; timeoutMs: number }) {
    await Promise.all(a.names.map((name) => node(name).waitPush(a.version, a.timeoutMs)));
    return true;
  },

  /** When each named node received (and answered) rules.push of `version`. */
  pushTimes(a: { names: string[]; version: number }) {
    return a.names.map((name) => ({ name, ...(node(name).pushes.get(a.version) ?? { at: Number.NaN, ackAt: Number.NaN }) }));
  },

  errors: () => errors,

  cpu: () => {
    const c = cpuUsage();
    return (c.user + c.system) / 1000;
  },

  async stop() {
    await Promise.all([...nodes.values()].map((n) => n.close()));
    setTimeout(() => process.exit(0), 50);
    return true;
  },
});
