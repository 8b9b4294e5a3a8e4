import type { EngineSignal, MessageFacts } from '@moat/rules';

/** What every analyzer sees: the envelope and the spooled file (read it as a stream, never whole). */
export interface AnalyzerInput {
  readonly clientIp: string;
  /** The client's forward-confirmed reverse DNS name (`smtp.reverseDns`); undefined: unknown. */
  readonly clientHostname?: string;
  readonly helo: string;
  readonly mailFrom: string;
  readonly rcptTo: readonly string[];
  readonly spoolFile: string;
  readonly size: number;
}

/** Facts an analyzer found; the rule engine decides from them, the pipeline only merges them. */
export interface Findings {
  readonly virus?: MessageFacts['virus'];
  readonly auth?: MessageFacts['auth'];
  readonly extraScores?: NonNullable<MessageFacts['extraScores']>;
  /** Header lines prepended to delivered mail (e.g. Authentication-Results). */
  readonly headers?: readonly string[];
  /**
   * The message could not be checked and must not be delivered unchecked (e.g. larger than
   * clamd's StreamMaxLength): it is held like unanalysable mail, at least quarantined.
   */
  readonly hold?: { readonly rule: string; readonly detail: string };
  /** A spam engine's answer cut into the detection model's signals, raw points (for an analyzer that runs `after` it). */
  readonly signals?: readonly EngineSignal[];
}

/**
 * What happens when an analyzer's engine is down, answers an error or does not answer within
 * its time-out: `temp-fail` answers 451 4.3.0 (the message is not accepted, the client
 * retries), `pass` goes on without this analyzer's facts and adds `headers` to delivered mail.
 */
export interface Fallback {
  readonly policy: 'temp-fail' | 'pass';
  readonly headers?: readonly string[];
}

/** One analyzer: a name (its reasons and log lines carry it), a time-out and a stated fallback. */
export interface Analyzer {
  readonly name: string;
  readonly timeoutMs: number;
  readonly fallback: Fallback;
  /** Rejects when the engine is unavailable; must stop its I/O when `signal` aborts. */
  run(input: AnalyzerInput, signal: AbortSignal): Promise<Findings>;
  /**
   * A cheap question to the engine (PING), asked every `analyzers.probeSeconds` so its health
   * is known between messages (engine-monitor.ts); rejects when it is down. Absent for the
   * DNS-based analyzers: their health is what their scans meet.
   */
  probe?(signal: AbortSignal): Promise<void>;
  /**
   * Run only once the named analyzer has answered, and not at all when `skipWhen` finds its
   * findings settle the message (the answer is the reason, recorded as `<name>.skipped`, score
   * 0). When the named analyzer fails or is not configured, this one runs as usual.
   */
  readonly after?: { readonly analyzer: string; skipWhen(earlier: Findings): string | undefined };
}
