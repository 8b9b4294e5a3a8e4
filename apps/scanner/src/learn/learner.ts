import type { Logger } from 'pino';
import type { LearnEvent } from '@moat/protocol';
import type { ScannerConfig } from '../config.ts';
import { rspamdLearner, spamassassinLearner, type EngineLearner } from './engine-learners.ts';
import type { ApplyLearn } from './learn-follower.ts';

/** The learners for the engines this node's config names (each engine's own store on this node). */
export function engineLearners(analyzers: ScannerConfig['analyzers']): EngineLearner[] {
  const learners: EngineLearner[] = [];
  const sa = analyzers.spamassassin;
  if (sa) learners.push(spamassassinLearner(sa.socket ? { socket: sa.socket } : { host: sa.host, port: sa.port }, Math.max(30_000, sa.timeoutSeconds * 1000)));
  const rs = analyzers.rspamd;
  if (rs?.controllerUrl) {
    learners.push(rspamdLearner({ controllerUrl: rs.controllerUrl, ...(rs.controllerPassword ? { password: rs.controllerPassword } : {}), timeoutMs: Math.max(30_000, rs.timeoutSeconds * 1000), fuzzy: rs.fuzzy }));
  }
  return learners;
}

/**
 * Apply a learn event to every engine, in turn. An engine that is down fails the whole event
 * (it is retried; engines that already took it take it again as "already learned"); an engine
 * that refuses this message for good is logged and passed.
 */
export function createLearner(learners: readonly EngineLearner[], log: Logger): ApplyLearn {
  return async (event: LearnEvent) => {
    const raw = Buffer.from(event.data, 'base64');
    for (const engine of learners) {
      const note = await engine.apply(event, raw);
      if (note) log.warn({ event: 'LEARN_ENGINE_REFUSED', engine: engine.name, seq: event.seq, class: event.class, note }, 'an engine would not learn this message; passed');
    }
  };
}
