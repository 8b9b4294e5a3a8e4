import { getServers } from 'node:dns';
import { interpretResponse, type DnsOutcome } from './dns/dns-answer.ts';
import { dnsError, exchange, parseServer, type DnsServer } from './dns/dns-transport.ts';

export interface DnsSettings {
  readonly servers: readonly string[];
  readonly timeoutMs: number;
  readonly tries: number;
  /** The longest an answer is cached, whatever its TTL says. */
  readonly cacheSeconds: number;
  /** The longest NXDOMAIN/NODATA is cached; also the negative TTL when the answer carries no SOA. */
  readonly negativeCacheSeconds: number;
  readonly cacheEntries: number;
}

/** `dns.promises.resolve`'s signature (what mailauth expects), with a cache in front. */
export type ResolveFn = (name: string, rrtype: string) => Promise<unknown>;

/** The exchange with one server; tests may pass their own (the default is UDP, then TCP when truncated). */
export type Exchange = typeof exchange;

interface Cached {
  readonly until: number;
  readonly outcome: Extract<DnsOutcome, { kind: 'answer' | 'negative' }>;
}

/**
 * The one resolver of the analyzers. Each query goes to the configured servers (the system's
 * when none: `dns.getServers()`, i.e. resolv.conf) in turn, `tries` rounds, each exchange
 * bounded by `timeoutMs`. Answers are cached for their TTL (the smallest of the records used),
 * at most `cacheSeconds`; NXDOMAIN and NODATA for the SOA's negative TTL (RFC 2308), at most
 * `negativeCacheSeconds`. A TTL of 0 is not cached. Time-outs and server failures are never
 * cached. Concurrent look-ups of one name share one query; the cache holds at most
 * `cacheEntries` (the oldest go first). Errors carry node's codes (`ENOTFOUND`, `ENODATA`,
 * `ETIMEOUT`, `ESERVFAIL`…), which mailauth maps to none or temperror.
 */
export function createDnsResolver(settings: DnsSettings, now: () => number = Date.now, send: Exchange = exchange): ResolveFn {
  const servers: DnsServer[] = (settings.servers.length > 0 ? settings.servers : getServers()).map(parseServer);
  const cache = new Map<string, Cached>();
  const inFlight = new Map<string, Promise<DnsOutcome>>();

  async function ask(name: string, type: string): Promise<DnsOutcome> {
    let last: DnsOutcome = { kind: 'failure', code: 'ETIMEOUT' };
    for (let round = 0; round < settings.tries; round++) {
      for (const server of servers) {
        try {
          const outcome = interpretResponse(await send(server, name, type, settings.timeoutMs), name, type);
          if (outcome.kind !== 'failure') return outcome;
          last = outcome;
        } catch (err) {
          last = { kind: 'failure', code: (err as { code?: string }).code ?? 'ETIMEOUT' };
        }
      }
    }
    return last;
  }

  function remember(key: string, outcome: DnsOutcome): void {
    if (outcome.kind === 'failure' || settings.cacheEntries === 0) return;
    const seconds = outcome.kind === 'answer' ? Math.min(outcome.ttl, settings.cacheSeconds) : Math.min(outcome.ttl ?? settings.negativeCacheSeconds, settings.negativeCacheSeconds);
    if (!(seconds > 0)) return;
    cache.delete(key);
    cache.set(key, { until: now() + seconds * 1000, outcome });
    if (cache.size > settings.cacheEntries) cache.delete(cache.keys().next().value!);
  }

  function settle(outcome: DnsOutcome, name: string, type: string): unknown {
    if (outcome.kind === 'answer') return [...outcome.records]; // a copy: callers may sort it
    throw dnsError(outcome.code, type, name);
  }

  return async (name, rrtype) => {
    const type = rrtype.toUpperCase();
    const key = `${type} ${name.toLowerCase().replace(/\.$/, '')}`;
    const hit = cache.get(key);
    if (hit && hit.until > now()) return settle(hit.outcome, name, type);
    if (hit) cache.delete(key);
    let pending = inFlight.get(key);
    if (!pending) {
      pending = ask(name, type).then((outcome) => {
        inFlight.delete(key);
        remember(key, outcome);
        return outcome;
      });
      inFlight.set(key, pending);
    }
    return settle(await pending, name, type);
  };
}
