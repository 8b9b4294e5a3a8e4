import type { Logger } from 'pino';
import type { VerifyTestAnswer } from '@moat/protocol';
import {
  checkLocalPartRouting, unknownRecipient, verificationTarget, verificationUnavailable,
  type CompiledRules, type EnvelopeDecision, type VerificationTarget,
} from '@moat/rules';
import { ldapLookup } from './ldap-lookup.ts';
import { probeRecipient } from './callout-probe.ts';
import type { CalloutCache } from './callout-cache.ts';
import type { VerificationStore } from './verification-store.ts';

export interface VerifierDeps {
  readonly store: VerificationStore;
  readonly cache: CalloutCache;
  /**
   * The default call-out target of a domain: its route's first server (by priority, or its
   * first MX), or the scanner's relay for a domain without a route (the Router's calloutTarget).
   */
  readonly calloutTarget: (domain: string) => Promise<{ host: string; port: number } | { unavailable: string }>;
  readonly helo: string;
  readonly log: Logger;
}

/** A lookup's answer: the recipient exists, does not, or the source could not say. */
export type Lookup =
  | { readonly outcome: 'accepted'; readonly detail: string; readonly cached: boolean }
  | { readonly outcome: 'unknown'; readonly detail: string; readonly cached: boolean }
  | { readonly outcome: 'unavailable'; readonly detail: string; readonly cached: false };

/**
 * Recipient verification at RCPT TO (docs/scanner.md, "Recipient verification"): the rules say
 * which domain verifies by which source; this runs the lookup (a static list of the store, an
 * LDAP search, a call-out through the cluster's cache) and turns it into an envelope decision.
 */
export class RecipientVerifier {
  private readonly deps: VerifierDeps;

  constructor(deps: VerifierDeps) {
    this.deps = deps;
  }

  /** Undefined: accept (not verified, or known); else the refusal to send. */
  async check(rules: CompiledRules, rcpt: string): Promise<{ decision?: Extract<EnvelopeDecision, { ok: false }>; target?: VerificationTarget; lookup?: Lookup }> {
    const target = verificationTarget(rules, rcpt);
    if (!target) return {};
    const lookup = await this.lookup(rules, target, true);
    const source = target.entry.source;
    if (lookup.outcome === 'unknown') return { decision: unknownRecipient(rcpt, source, target.address), target, lookup };
    if (lookup.outcome === 'unavailable' && rules.rules.recipientVerification.onUnavailable === 'defer') return { decision: verificationUnavailable(rcpt, source, lookup.detail), target, lookup };
    return { target, lookup };
  }

  /** The master's "test this address": the same path as RCPT TO, the call-out cache skipped. */
  async test(rules: CompiledRules, address: string): Promise<VerifyTestAnswer> {
    const routing = checkLocalPartRouting(rules.rules.recipientVerification, address);
    if (!routing.ok) return { address, lookedUp: null, source: null, outcome: 'refused', detail: routing.reason.rule, reply: `${routing.code} ${routing.enhanced} ${routing.text}`, cached: false };
    const target = verificationTarget(rules, address);
    if (!target) return { address, lookedUp: null, source: null, outcome: 'not-verified', detail: 'no verification for this domain, or postmaster/abuse', reply: '250 2.1.5 Ok', cached: false };
    const lookup = await this.lookup(rules, target, false);
    const reply = lookup.outcome === 'unknown'
      ? unknownRecipient(address, target.entry.source, target.address)
      : lookup.outcome === 'unavailable' && rules.rules.recipientVerification.onUnavailable === 'defer' ? verificationUnavailable(address, target.entry.source, lookup.detail) : undefined;
    return {
      address, lookedUp: target.address, source: target.entry.source, outcome: lookup.outcome, detail: lookup.detail, cached: lookup.cached,
      reply: reply ? `${reply.code} ${reply.enhanced} ${reply.text}` : '250 2.1.5 Ok',
    };
  }

  private async lookup(rules: CompiledRules, t: VerificationTarget, useCache: boolean): Promise<Lookup> {
    const settings = rules.rules.recipientVerification;
    switch (t.entry.source) {
      case 'static': {
        const hit = this.deps.store.staticMatch(t.store, t.address);
        if (hit === 'missing') return { outcome: 'unavailable', detail: `no static list ${t.store} in the verification store`, cached: false };
        return hit === undefined ? { outcome: 'unknown', detail: `not in static list ${t.store}`, cached: false } : { outcome: 'accepted', detail: `static list ${t.store}: ${hit}`, cached: false };
      }
      case 'ldap': {
        const source = this.deps.store.get(t.store);
        if (source?.kind !== 'ldap') return { outcome: 'unavailable', detail: `no directory ${t.store} in the verification store`, cached: false };
        const r = await ldapLookup(source, t.address, settings.lookupTimeoutMs);
        if ('unavailable' in r) {
          this.deps.log.warn({ event: 'VERIFY_UNAVAILABLE', source: 'ldap', store: t.store, error: r.unavailable }, 'the directory could not be asked');
          return { outcome: 'unavailable', detail: r.unavailable, cached: false };
        }
        return r.found ? { outcome: 'accepted', detail: `found: ${r.dn}`, cached: false } : { outcome: 'unknown', detail: `no entry in ${t.store} matches`, cached: false };
      }
      case 'callout': {
        if (useCache) {
          const hit = await this.deps.cache.lookup(t.address, Math.min(settings.lookupTimeoutMs, 1500));
          if (hit) return { outcome: hit.result === 'unknown' ? 'unknown' : 'accepted', detail: `call-out cache (${hit.from}): ${hit.result}`, cached: true };
        }
        const explicit = t.entry.callout?.host;
        const server = explicit ? { host: explicit, port: t.entry.callout?.port ?? 25 } : await this.deps.calloutTarget(t.address.slice(t.address.lastIndexOf('@') + 1));
        if ('unavailable' in server) {
          this.deps.log.warn({ event: 'VERIFY_UNAVAILABLE', source: 'callout', error: server.unavailable }, 'no server to probe');
          return { outcome: 'unavailable', detail: server.unavailable, cached: false };
        }
        const { host } = server;
        const port = explicit ? server.port : (t.entry.callout?.port ?? server.port);
        const probe = await probeRecipient({ host, port, helo: this.deps.helo, timeoutMs: settings.lookupTimeoutMs }, t.address);
        this.deps.log.info({ event: 'VERIFY_CALLOUT', server: `${host}:${port}`, result: probe.result }, 'call-out probe');
        if (probe.result === 'unavailable') return { outcome: 'unavailable', detail: probe.reply, cached: false };
        // A test probes too, and what it learnt is as good as any probe's.
        this.deps.cache.store(t.address, probe.result, probe.result === 'unknown' ? settings.callout.negativeTtlSeconds : settings.callout.positiveTtlSeconds);
        return { outcome: probe.result === 'unknown' ? 'unknown' : 'accepted', detail: `${host}:${port}: ${probe.result}: ${probe.reply}`, cached: false };
      }
    }
  }
}
