import { isIP } from 'node:net';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { isLoop, orderTargets, type CompiledRules, type Route, type RouteTarget, type SelfIdentity } from '@moat/rules';
import type { RouteHealth } from '@moat/protocol';
import type { Downstream, DownstreamSettings } from './downstream.ts';
import type { AttemptResult } from './outcome.ts';

/** The scanner's own downstream (`relay` in its config), for domains without a route. */
export const RELAY_ROUTE = 'relay';

export interface RouterDeps {
  readonly rules: () => CompiledRules;
  /** The scanner's `relay` downstream. */
  readonly relay: Downstream;
  /** Where the relay goes (`relay.host`/`port`): a call-out's target for a domain without a route. */
  readonly relayServer: { readonly host: string; readonly port: number };
  readonly makeDownstream: (s: DownstreamSettings) => Downstream;
  /** Our name in EHLO and the relay time-out, for the routes' connections. */
  readonly hostname: string;
  readonly timeoutMs: number;
  /** MX records of a domain; an error with code ENOTFOUND or ENODATA means it has none. */
  readonly resolveMx: (domain: string) => Promise<readonly { exchange: string; priority: number }[]>;
  /** The addresses of a host name (for loop detection); [] when it has none. */
  readonly resolveAddresses: (host: string) => Promise<readonly string[]>;
  /** What this gateway answers on, read at each attempt (the SMTP port is known once listening). */
  readonly self: () => SelfIdentity;
  readonly now: () => number;
  /** How long a route none of whose servers took the last attempt is left alone: its mail is deferred at once meanwhile. */
  readonly holdMs: number;
  readonly log: Logger;
}

interface RouteState {
  readonly key: string;
  readonly route: Route;
  readonly pools: Map<string, Downstream>;
  active: number;
  readonly waiting: (() => void)[];
}

/** A server to try, with the address to connect to. */
interface Resolved extends RouteTarget {
  readonly address: string;
}

interface Health {
  state: RouteHealth['state'];
  host?: string;
  error?: string;
  at: number;
  delivered: number;
  deferred: number;
  downUntil: number;
}

/**
 * Per-domain routing as a Downstream, so the relay worker stays as it is: the recipients of an
 * attempt are grouped by their domain's route (`routing.domains` in the rules; none: the
 * scanner's `relay`) and each group goes its way, one after the other (the worker's message
 * stream is opened anew per group). A route's servers are tried in priority order, the next one
 * when a server cannot be reached or answers 421; a route none of whose servers took the
 * message is `down` and its mail is deferred at once for `holdMs`, so a dead route neither
 * holds relay slots nor delays other domains (Postfix's "dead destination"). A server that is
 * this gateway is never used (a loop); a route with nothing else is `loop`, its mail deferred.
 */
export class Router implements Downstream {
  private readonly deps: RouterDeps;
  private readonly states = new Map<string, RouteState>();
  private readonly health = new Map<string, Health>();
  private rulesVersion = -1;

  constructor(deps: RouterDeps) {
    this.deps = deps;
  }

  async send(envelope: { from: string; to: readonly string[] }, open: () => Readable, queueId: string): Promise<AttemptResult> {
    const rules = this.deps.rules();
    this.sweep(rules);
    const groups = new Map<string, { route: Route | undefined; to: string[] }>();
    for (const rcpt of envelope.to) {
      const route = rules.route(rcpt.slice(rcpt.lastIndexOf('@') + 1));
      const key = route ? route.domain : RELAY_ROUTE;
      const group = groups.get(key) ?? { route, to: [] };
      group.to.push(rcpt);
      groups.set(key, group);
    }
    const accepted: string[] = [];
    const refused: AttemptResult['refused'][number][] = [];
    for (const [key, group] of groups) {
      const result = group.route
        ? await this.sendRoute(this.state(key, group.route), { from: envelope.from, to: group.to }, open, queueId)
        : this.noteRelay(await this.deps.relay.send({ from: envelope.from, to: group.to }, open, queueId));
      accepted.push(...result.accepted);
      refused.push(...result.refused);
    }
    return { accepted, refused };
  }

  /**
   * The server a call-out for a domain probes (recipient verification without an explicit
   * `callout.host`): the first server its mail would go to now, by priority (or its first MX),
   * never this gateway; a domain without a route goes to the scanner's relay. `unavailable`,
   * with the reason, when the route has no usable server (its MX lookup failed, or it loops back).
   */
  async calloutTarget(domain: string): Promise<{ host: string; port: number } | { unavailable: string }> {
    const route = this.deps.rules().route(domain);
    if (!route) return { ...this.deps.relayServer };
    let targets: RouteTarget[];
    try {
      targets = await this.targets(route);
    } catch (err) {
      return { unavailable: `MX lookup for ${route.domain} failed: ${(err as Error).message}` };
    }
    const self = this.deps.self();
    for (const t of targets) {
      const addresses = isIP(t.host) ? [t.host] : await this.deps.resolveAddresses(t.host).catch(() => []);
      if (!isLoop(t, addresses, self)) return { host: addresses[0] ?? t.host, port: t.port };
    }
    return { unavailable: `route ${route.domain} has no server but this gateway (a loop)` };
  }

  /** Each route's last outcome (the routes of the current rules, and the relay once used). */
  routeHealth(): RouteHealth[] {
    const out: RouteHealth[] = [];
    for (const [route, h] of this.health) {
      out.push({ route, state: h.state, ...(h.host ? { host: h.host } : {}), ...(h.error ? { error: h.error.slice(0, 1000) } : {}), at: h.at, delivered: h.delivered, deferred: h.deferred });
    }
    return out;
  }

  close(): void {
    this.deps.relay.close();
    for (const s of this.states.values()) for (const p of s.pools.values()) p.close();
    this.states.clear();
  }

  /** After a rules change: close the pools of routes removed or changed, forget their health. */
  private sweep(rules: CompiledRules): void {
    if (rules.version === this.rulesVersion) return;
    this.rulesVersion = rules.version;
    const current = new Map(rules.rules.routing.domains.map((r) => [r.domain, JSON.stringify(r)]));
    for (const [key, s] of this.states) {
      if (current.get(key) === JSON.stringify(s.route)) continue;
      for (const p of s.pools.values()) p.close();
      this.states.delete(key);
      this.health.delete(key);
    }
  }

  private state(key: string, route: Route): RouteState {
    let s = this.states.get(key);
    if (!s) {
      s = { key, route, pools: new Map(), active: 0, waiting: [] };
      this.states.set(key, s);
    }
    return s;
  }

  private async sendRoute(s: RouteState, envelope: { from: string; to: string[] }, open: () => Readable, queueId: string): Promise<AttemptResult> {
    const { now, log } = this.deps;
    const h = this.healthOf(s.key);
    if (h.state === 'down' && now() < h.downUntil) {
      return this.note(s.key, deferAll(envelope.to, `4.4.1 Route ${s.key} is down (${h.error ?? 'no server answered'}); next try after ${new Date(h.downUntil).toISOString()}`));
    }
    let targets: RouteTarget[];
    try {
      targets = await this.targets(s.route);
    } catch (err) {
      const text = `4.4.3 MX lookup for ${s.route.domain} failed: ${(err as Error).message}`;
      log.warn({ event: 'ROUTE_MX_FAILED', route: s.key, queueId, err }, 'MX lookup failed');
      return this.markDown(s.key, deferAll(envelope.to, text), text);
    }
    const self = this.deps.self();
    const usable: Resolved[] = [];
    const loops: string[] = [];
    for (const t of targets) {
      const addresses = isIP(t.host) ? [t.host] : await this.deps.resolveAddresses(t.host).catch(() => []);
      if (isLoop(t, addresses, self)) loops.push(`${t.host}:${t.port}`);
      // Connect to the address checked (the same DNS), not to a name the system resolver may see otherwise.
      else usable.push({ ...t, address: addresses[0] ?? t.host });
    }
    if (usable.length === 0) {
      const text = `4.4.6 Mail for ${s.route.domain} loops back to this gateway: ${loops.join(', ')} ${loops.length === 1 ? 'is' : 'are'} this scanner (routing.domains, route ${s.key}); fix the route or its MX records`;
      log.error({ event: 'ROUTE_LOOP', route: s.key, targets: loops, queueId }, 'route points back at this gateway: mail deferred');
      const h2 = this.healthOf(s.key);
      Object.assign(h2, { state: 'loop', error: text, at: now(), downUntil: 0 });
      delete h2.host;
      h2.deferred += envelope.to.length;
      return deferAll(envelope.to, text);
    }
    let last: AttemptResult | undefined;
    for (const t of usable) {
      const result = await this.withSlot(s, () => this.pool(s, t).send(envelope, open, queueId));
      if (!unreachable(result)) {
        const h2 = this.healthOf(s.key);
        Object.assign(h2, { state: 'up', host: `${t.host}:${t.port}`, at: now(), downUntil: 0 });
        delete h2.error;
        return this.note(s.key, result);
      }
      last = result;
      log.warn({ event: 'ROUTE_HOST_FAILED', route: s.key, host: `${t.host}:${t.port}`, queueId, error: result.refused[0]?.text.slice(0, 300) }, 'route server did not take the message; trying the next');
    }
    const error = `${usable.map((t) => `${t.host}:${t.port}`).join(', ')}: ${last?.refused[0]?.text ?? 'no answer'}`;
    log.warn({ event: 'ROUTE_DOWN', route: s.key, queueId, holdMs: this.deps.holdMs, error: error.slice(0, 300) }, 'no server of the route took the message: its mail waits');
    return this.markDown(s.key, last ?? deferAll(envelope.to, error), error);
  }

  /** The route's servers in the order to try: its hosts, or its MX records (the domain itself when it has none). */
  private async targets(route: Route): Promise<RouteTarget[]> {
    if (route.hosts) return orderTargets(route.hosts, route.port);
    const domain = route.domain.toLowerCase().replace(/\.$/, '');
    let mx: readonly { exchange: string; priority: number }[];
    try {
      mx = await this.deps.resolveMx(domain);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTFOUND' && code !== 'ENODATA') throw err;
      mx = [];
    }
    // RFC 5321 5.1: no MX records: the domain itself is the implicit MX; a null MX (RFC 7505) takes no mail.
    if (mx.length === 0) return [{ host: domain, port: route.port, priority: 0 }];
    if (mx.length === 1 && (mx[0]!.exchange === '' || mx[0]!.exchange === '.')) throw new Error(`${domain} publishes a null MX: it takes no mail`);
    return orderTargets(mx.map((r) => ({ host: r.exchange.replace(/\.$/, ''), priority: r.priority })), route.port);
  }

  private pool(s: RouteState, t: Resolved): Downstream {
    const key = `${t.host}|${t.address}:${t.port}`;
    let p = s.pools.get(key);
    if (!p) {
      const tls = s.route.tls;
      p = this.deps.makeDownstream({
        host: t.address,
        ...(t.address !== t.host ? { servername: t.host } : {}),
        port: t.port,
        secure: false,
        requireTls: tls === 'required',
        rejectUnauthorized: tls === 'required',
        ignoreTls: tls === 'none',
        ...(s.route.ca ? { ca: s.route.ca } : {}),
        maxConnections: s.route.maxConnections,
        timeoutMs: this.deps.timeoutMs,
        hostname: this.deps.hostname,
      });
      s.pools.set(key, p);
    }
    return p;
  }

  /** At most `maxConnections` sends at once on a route, whichever of its servers they go to. */
  private async withSlot<T>(s: RouteState, run: () => Promise<T>): Promise<T> {
    while (s.active >= s.route.maxConnections) await new Promise<void>((resolve) => s.waiting.push(resolve));
    s.active++;
    try {
      return await run();
    } finally {
      s.active--;
      s.waiting.shift()?.();
    }
  }

  private healthOf(key: string): Health {
    let h = this.health.get(key);
    if (!h) {
      h = { state: 'up', at: 0, delivered: 0, deferred: 0, downUntil: 0 };
      this.health.set(key, h);
    }
    return h;
  }

  private note(key: string, r: AttemptResult): AttemptResult {
    const h = this.healthOf(key);
    h.delivered += r.accepted.length;
    h.deferred += r.refused.filter((x) => x.code === undefined || x.code < 500).length;
    return r;
  }

  private noteRelay(r: AttemptResult): AttemptResult {
    const h = this.healthOf(RELAY_ROUTE);
    const down = unreachable(r);
    Object.assign(h, { state: down ? 'down' : 'up', at: this.deps.now(), downUntil: 0 });
    if (down) h.error = r.refused[0]?.text ?? 'no answer';
    else delete h.error;
    return this.note(RELAY_ROUTE, r);
  }

  private markDown(key: string, r: AttemptResult, error: string): AttemptResult {
    const h = this.healthOf(key);
    const at = this.deps.now();
    Object.assign(h, { state: 'down', error, at, downUntil: at + this.deps.holdMs });
    return this.note(key, r);
  }
}

/** No server took the attempt: every recipient failed without an SMTP reply (connection, time-out, TLS) or with 421. */
function unreachable(r: AttemptResult): boolean {
  return r.accepted.length === 0 && r.refused.length > 0 && r.refused.every((x) => x.code === undefined || x.code === 421);
}

function deferAll(to: readonly string[], text: string): AttemptResult {
  return { accepted: [], refused: to.map((address) => ({ address, text })) };
}
