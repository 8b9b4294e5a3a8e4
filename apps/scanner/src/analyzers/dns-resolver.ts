import { Resolver } from 'node:dns/promises';

export interface DnsSettings {
  readonly servers: readonly string[];
  readonly timeoutMs: number;
  readonly tries: number;
  readonly cacheSeconds: number;
  readonly cacheEntries: number;
}

/** `dns.promises.resolve`'s signature (what mailauth expects), with a cache in front. */
export type ResolveFn = (name: string, rrtype: string) => Promise<unknown>;

/** Answers that are facts about the name and may be cached: the name or the record type does not exist. */
const CACHEABLE_ERRORS = new Set(['ENOTFOUND', 'ENODATA']);

/**
 * The one resolver of the analyzers: node's c-ares Resolver on the configured servers (tests
 * point it at a dnsmasq on loopback), each try bounded by `timeoutMs`. Answers and
 * NXDOMAIN/NODATA are cached for `cacheSeconds` (bounded; oldest evicted first) and concurrent
 * look-ups of one name share one query. Time-outs and server failures are not cached, so the
 * next message asks again. The errors are node's own (`err.code`), which mailauth maps to
 * temperror or none.
 */
export function createDnsResolver(settings: DnsSettings, now: () => number = Date.now): ResolveFn {
  const resolver = new Resolver({ timeout: settings.timeoutMs, tries: settings.tries });
  if (settings.servers.length > 0) resolver.setServers([...settings.servers]);
  const cache = new Map<string, { until: number; answer: Promise<unknown> }>();

  return (name, rrtype) => {
    const key = `${rrtype} ${name.toLowerCase()}`;
    const hit = cache.get(key);
    if (hit && hit.until > now()) return hit.answer;
    if (hit) cache.delete(key);
    const answer = resolver.resolve(name, rrtype as 'TXT') as Promise<unknown>;
    if (settings.cacheSeconds === 0 || settings.cacheEntries === 0) return answer;
    const entry = { until: now() + settings.cacheSeconds * 1000, answer };
    cache.set(key, entry);
    if (cache.size > settings.cacheEntries) cache.delete(cache.keys().next().value!);
    answer.catch((err: NodeJS.ErrnoException) => {
      if (!CACHEABLE_ERRORS.has(err.code ?? '') && cache.get(key) === entry) cache.delete(key);
    });
    return answer;
  };
}
