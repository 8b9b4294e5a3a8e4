import nodemailer from 'nodemailer';
import { message } from '../helpers/smtp-client.ts';
import { sleep } from '../helpers/wait.ts';

/** How one attempt ended, as the sending MTA saw it. */
export type Outcome =
  | 'accepted' // 250 after DATA
  | 'temp' // a 4xx reply
  | 'perm' // a 5xx reply
  | 'reset' // the connection was cut without a reply to the command in flight
  | 'refused' // no TCP connection (nobody held the virtual address at that moment)
  | 'hang'; // no reply within the client's time-outs: never acceptable

export interface Attempt {
  readonly n: number;
  readonly messageId: string;
  /** The window in which the attempt ended (a session cut by a fault belongs to that fault). */
  window: string;
  readonly quarantine: boolean;
  readonly startedAt: number;
  endedAt?: number;
  outcome?: Outcome;
  code?: number;
  response?: string;
}

export interface LoadClient {
  readonly attempts: Attempt[];
  /** Label the attempts started from now on (one label per fault window). */
  setWindow(label: string): void;
  /** Stop starting attempts and wait for those in flight. */
  stop(): Promise<void>;
}

export interface LoadOptions {
  readonly host: string;
  readonly port: number;
  readonly localAddress: string;
  /** Sessions in parallel, each sending one message per connection, one after another. */
  readonly concurrency: number;
  /** Pause between two messages of one session (a steady, not a saturating, load). */
  readonly pauseMs: number;
  /** Every n-th message asks for quarantine (subject QUARANTINE-ME). */
  readonly quarantineEvery: number;
}

/** A sending MTA under a steady load: one message per connection, every reply recorded, nothing retried. */
export function startLoad(opts: LoadOptions): LoadClient {
  const attempts: Attempt[] = [];
  let window = 'baseline';
  let running = true;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (running) {
      const n = next++;
      const quarantine = n % opts.quarantineEvery === opts.quarantineEvery - 1;
      const attempt: Attempt = { n, messageId: `<load-${n}-${process.pid}@faults.test>`, window, quarantine, startedAt: Date.now() };
      attempts.push(attempt);
      Object.assign(attempt, await sendOne(opts, attempt), { endedAt: Date.now(), window });
      await sleep(opts.pauseMs);
    }
  };
  const workers = Array.from({ length: opts.concurrency }, () => worker());
  return {
    attempts,
    setWindow: (label) => void (window = label),
    async stop() {
      running = false;
      await Promise.all(workers);
    },
  };
}

async function sendOne(opts: LoadOptions, a: Attempt): Promise<Pick<Attempt, 'outcome' | 'code' | 'response'>> {
  const transport = nodemailer.createTransport({
    host: opts.host, port: opts.port, secure: false, ignoreTLS: true, localAddress: opts.localAddress,
    // Generous: a reply that takes this long is a hang, whatever the fault.
    connectionTimeout: 10_000, greetingTimeout: 15_000, socketTimeout: 30_000,
  });
  const raw = message({ subject: a.quarantine ? `QUARANTINE-ME load ${a.n}` : `load ${a.n}`, headers: [] }).replace(/^Message-ID: .*$/m, `Message-ID: ${a.messageId}`);
  try {
    const info = await transport.sendMail({ envelope: { from: 'load@origin.test', to: ['user@example.test'] }, raw });
    return { outcome: 'accepted', code: 250, response: info.response };
  } catch (err) {
    const e = err as { responseCode?: number; response?: string; code?: string; message: string };
    if (e.responseCode) return { outcome: e.responseCode >= 500 ? 'perm' : 'temp', code: e.responseCode, response: e.response ?? e.message };
    if (/ECONNREFUSED/.test(e.message)) return { outcome: 'refused', response: e.message };
    if (e.code === 'ETIMEDOUT' || /timeout/i.test(e.message)) return { outcome: 'hang', response: e.message };
    return { outcome: 'reset', response: e.message };
  } finally {
    transport.close();
  }
}

/** The Message-ID header of a message as it reached the downstream (how the audit matches it to its attempt). */
export const messageIdOf = (raw: Buffer): string => /^Message-ID:\s*(<[^>\r\n]+>)/im.exec(raw.toString('latin1'))?.[1] ?? '?';
