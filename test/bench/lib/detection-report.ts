/**
 * The detection benchmark's results file, pure: one table per phase with a row per figure and a
 * column per system (Moat, then the engines alone measured in the same pass), so the one-table
 * summary (lib/summary.ts) can pick Moat beside its baselines.
 */
import type { Rates } from './detection-outcome.ts';

export interface PhaseResult {
  /** The `##` heading, e.g. `After moat learn`. */
  readonly phase: string;
  readonly moat: Rates;
  readonly spamassassin: Rates;
  readonly rspamd: Rates;
}

export interface DetectionReport {
  readonly date: Date;
  readonly cores: number;
  readonly command: string;
  readonly corpus: string;
  readonly phases: readonly PhaseResult[];
  /** Full pipeline msg/s (4 sessions, after learning) and SpamAssassin alone's on the same spamd. */
  readonly throughput: { readonly moat: number; readonly spamassassin: number; readonly sessions: number };
  readonly notes: readonly string[];
}

const pct = (n: number) => `${n.toFixed(1)}%`;

export function renderDetectionReport(r: DetectionReport): string {
  const lines = [
    '# Detection benchmark',
    '',
    `Run ${r.date.toISOString().slice(0, 16).replace('T', ' ')} UTC on ${r.cores} cores with \`${r.command}\`.`,
    r.corpus,
    'Network tests off for every engine (no DNS to the Internet). "Flagged" is anything but delivery as it came: Moat tags, quarantines or rejects; SpamAssassin alone flags at its own required score (5); Rspamd alone by its own actions (anything but `no action` and `greylist`). Every system is read from the same pass of the same messages.',
    '',
  ];
  for (const p of r.phases) {
    lines.push(`## ${p.phase}`, '', '| figure | Moat | SpamAssassin alone | Rspamd alone |', '| --- | ---: | ---: | ---: |');
    lines.push(`| spam caught | **${pct(p.moat.caught)}** | ${pct(p.spamassassin.caught)} | ${pct(p.rspamd.caught)} |`);
    lines.push(`| ham flagged | **${pct(p.moat.falsePositive)}** | ${pct(p.spamassassin.falsePositive)} | ${pct(p.rspamd.falsePositive)} |`);
    lines.push(`| messages (spam + ham) | ${p.moat.spam} + ${p.moat.ham} | | |`, '');
  }
  lines.push(
    '## Throughput',
    '',
    `| figure | Moat | SpamAssassin alone |`,
    '| --- | ---: | ---: |',
    `| msg/s, ${r.throughput.sessions} sessions | **${r.throughput.moat.toFixed(1)}** | ${r.throughput.spamassassin.toFixed(1)} |`,
    '',
    ...r.notes,
    '',
  );
  return lines.join('\n');
}
