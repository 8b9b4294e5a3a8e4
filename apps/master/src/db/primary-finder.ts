import pg from 'pg';

/**
 * The master on a replicated PostgreSQL (docs/database.md, "High availability"): node-postgres,
 * under Kysely, takes one host per connection string, so a `database.url` listing several
 * hosts (`postgres://moat:…@db1:5432,db2:5432/moat`, libpq's form) is served by asking each
 * host whether it takes writes and connecting to the one that does. "Takes writes" is libpq's
 * `target_session_attrs=read-write` test: not `pg_is_in_recovery()`, and not
 * `transaction_read_only` either, since pg_auto_failover promotes a standby read-only
 * (`default_transaction_read_only`) until the old primary is known to be demoted.
 */
const WRITABLE = "SELECT NOT pg_is_in_recovery() AND current_setting('transaction_read_only') = 'off' AS w";

/** One URL per host of a libpq-style multi-host URL (a one-host URL gives itself). */
export function splitHosts(url: string): string[] {
  const m = /^(postgres(?:ql)?:\/\/)([^@/?#]*@)?([^/?#]*)(.*)$/.exec(url);
  if (!m) throw new Error('database.url: not a postgres:// URL');
  const [, scheme, auth = '', hosts = '', rest = ''] = m;
  const list = hosts.split(',');
  if (list.some((h) => h === '')) throw new Error('database.url: an empty host in its host list');
  return list.map((h) => `${scheme}${auth}${h}${rest}`);
}

/** `host:port` of a URL, for messages (never the password). */
export function hostOf(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || '5432'}`;
}

export interface FindPrimaryOptions {
  /** Give up after this long (default 30 s: pg_auto_failover's default failover takes about a minute, its fast settings seconds). */
  readonly deadlineMs?: number;
  /** Backoff between rounds: the first wait, doubled each round up to `maxDelayMs`. */
  readonly firstDelayMs?: number;
  readonly maxDelayMs?: number;
  /** Per host and round. */
  readonly connectTimeoutMs?: number;
}

/**
 * The URL of the host that takes writes (the primary), asking every host at once each round
 * and retrying with backoff until the deadline; the error names each host's last answer. When
 * several take writes (no fencing), the first listed wins.
 */
export async function findPrimary(urls: readonly string[], options: FindPrimaryOptions = {}): Promise<string> {
  if (urls.length === 0) throw new Error('database.url: no host');
  const deadline = Date.now() + (options.deadlineMs ?? 30_000);
  let delay = options.firstDelayMs ?? 100;
  for (;;) {
    const answers = await Promise.all(urls.map((url) => writable(url, options.connectTimeoutMs ?? 2_000)));
    const primary = urls.find((_, i) => answers[i] === true);
    if (primary) return primary;
    if (Date.now() + delay > deadline) {
      const said = urls.map((url, i) => `${hostOf(url)} (${answers[i] === false ? 'read-only' : answers[i]})`).join(', ');
      throw new Error(`no PostgreSQL primary among ${said} after ${options.deadlineMs ?? 30_000} ms`);
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, options.maxDelayMs ?? 2_000);
  }
}

/** true / false, or why the host did not answer. */
async function writable(url: string, connectTimeoutMs: number): Promise<boolean | string> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: connectTimeoutMs, query_timeout: connectTimeoutMs });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const r = await client.query<{ w: boolean }>(WRITABLE);
    return r.rows[0]!.w;
  } catch (err) {
    return (err as { code?: string }).code ?? (err as Error).message;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * A pg.Client class for `new pg.Pool({ Client })` whose connections go to the current
 * primary of `urls`: found on the first connection and kept; forgotten when a connection
 * fails to open, breaks (a crash or failover ends every connection to the old primary), or
 * lands on a host that does not take writes, so the next connection looks again. A query on a connection
 * that broke fails; the next one, on a new connection, reaches the new primary.
 */
export function primaryClientClass(urls: readonly string[], options: FindPrimaryOptions = {}): typeof pg.Client {
  let current: Promise<string> | undefined;
  const forget = (p: Promise<string> | undefined) => {
    if (current === p) current = undefined;
  };
  return class PrimaryClient extends pg.Client {
    constructor(config?: string | pg.ClientConfig) {
      super(config);
      this.on('error', () => forget(current));
    }
    override connect(): Promise<pg.Client>;
    override connect(callback: ((err: Error) => void) | ((err: null, c: pg.Client) => void)): void;
    override connect(callback?: ((err: Error) => void) | ((err: null, c: pg.Client) => void)): Promise<pg.Client> | void {
      const done = this.connectToPrimary().then(() => this);
      if (!callback) return done;
      const cb = callback as (err: Error | null, c?: pg.Client) => void;
      done.then((c) => cb(null, c), (err: Error) => cb(err));
    }
    private async connectToPrimary(): Promise<void> {
      const found = (current ??= findPrimary(urls, options));
      try {
        const u = new URL(await found);
        // pg.Client reads its target from these when it connects (and for TLS's server name).
        const params = (this as unknown as { connectionParameters: { host: string; port: number } }).connectionParameters;
        this.host = params.host = u.hostname;
        this.port = params.port = Number(u.port || 5432);
        await super.connect();
        const r = await this.query<{ w: boolean }>(WRITABLE);
        if (!r.rows[0]!.w) {
          await this.end().catch(() => undefined);
          throw new Error(`${u.hostname}:${u.port} does not take writes now (a standby, or a primary not yet confirmed); the next connection looks for the primary again`);
        }
      } catch (err) {
        forget(found);
        throw err;
      }
    }
  };
}
