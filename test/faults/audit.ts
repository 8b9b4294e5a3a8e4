import type { Attempt } from './load.ts';

/**
 * The audit after a fault run, pure: what the client sent and how each attempt ended, against
 * what reached the downstream, the master's quarantine index and the master's message log.
 * At-least-once: a message may reach the downstream twice (counted), never zero times.
 */
export interface Window {
  readonly label: string;
  readonly fault: string;
  readonly seconds: number;
  /** The fault kills a process that carries SMTP sessions: resets are expected (counted, explained). */
  readonly cutsSessions?: boolean;
  /** The fault leaves the virtual address unheld for a moment: refused connections are expected. */
  readonly unholdsAddress?: boolean;
}

export interface MasterFacts {
  /** message_id of every row of the master's message log (one per scanner-side message). */
  readonly logged: readonly string[];
  /** message_id of every message in the master's quarantine index. */
  readonly quarantined: readonly string[];
  /** Per node: events stored (node, seq) on the master, and the highest seq the scanner ever wrote. */
  readonly events: readonly { node: string; stored: number; maxStored: number; written: number; pendingAtScanner: number }[];
}

export interface Row {
  readonly fault: string;
  readonly seconds: number;
  sent: number;
  accepted: number;
  temp: number;
  perm: number;
  resets: number;
  refused: number;
  hangs: number;
  delivered: number;
  duplicates: number;
  lost: number;
}

export interface AuditResult {
  readonly rows: Row[];
  readonly total: Row;
  /** Everything that breaks a promise; empty when the run passed. */
  readonly problems: string[];
  /** Attempts the client saw cut (reset) whose message was nevertheless committed and delivered. */
  readonly deliveredAfterReset: number;
  readonly eventsTable: string;
  /** Per window, each distinct reply to an attempt that did not get 250 (queue ids blanked), with its count. */
  readonly replies: string;
}

const count = (ids: readonly string[]): Map<string, number> => {
  const m = new Map<string, number>();
  for (const id of ids) m.set(id, (m.get(id) ?? 0) + 1);
  return m;
};

export function audit(windows: readonly Window[], attempts: readonly Attempt[], downstreamIds: readonly string[], master: MasterFacts): AuditResult {
  const downstream = count(downstreamIds);
  const logged = count(master.logged);
  const quarantined = new Set(master.quarantined);
  const problems: string[] = [];
  const empty = (fault: string, seconds: number): Row => ({ fault, seconds, sent: 0, accepted: 0, temp: 0, perm: 0, resets: 0, refused: 0, hangs: 0, delivered: 0, duplicates: 0, lost: 0 });
  const rows = new Map(windows.map((w) => [w.label, empty(w.fault, w.seconds)]));
  const total = empty('total', windows.reduce((s, w) => s + w.seconds, 0));
  let deliveredAfterReset = 0;

  const windowOf = new Map(windows.map((w) => [w.label, w]));
  for (const a of attempts) {
    const row = rows.get(a.window);
    const w = windowOf.get(a.window);
    if (!row || !w) throw new Error(`attempt ${a.n} in unknown window ${a.window}`);
    if (a.outcome === 'reset' && !w.cutsSessions) problems.push(`reset without a reply: ${a.messageId} (${a.window}, where no SMTP-carrying process was killed): ${a.response}`);
    if (a.outcome === 'refused' && !w.unholdsAddress) problems.push(`connection refused: ${a.messageId} (${a.window}, where the virtual address should be held): ${a.response}`);
    const copies = downstream.get(a.messageId) ?? 0;
    const arrived = a.quarantine ? quarantined.has(a.messageId) : copies > 0;
    for (const r of [row, total]) {
      r.sent++;
      if (a.outcome === 'accepted') r.accepted++;
      else if (a.outcome === 'temp') r.temp++;
      else if (a.outcome === 'perm') r.perm++;
      else if (a.outcome === 'reset') r.resets++;
      else if (a.outcome === 'refused') r.refused++;
      else r.hangs++;
      if (arrived) r.delivered++;
      if (copies > 1) r.duplicates += copies - 1;
      if (a.outcome === 'accepted' && !arrived) r.lost++;
    }
    const logRows = logged.get(a.messageId) ?? 0;
    if (a.outcome === 'accepted' && !arrived) problems.push(`lost: ${a.messageId} (${a.window}) got 250 but is neither downstream nor in the quarantine`);
    if (a.outcome === 'accepted' && logRows === 0) problems.push(`not on the master: ${a.messageId} (${a.window}) got 250 but is not in the master's message log`);
    if (logRows > 1) problems.push(`duplicated on the master: ${a.messageId} (${a.window}) is ${logRows} times in the master's message log`);
    if (a.outcome === 'hang' || a.outcome === undefined) problems.push(`no reply: ${a.messageId} (${a.window}): ${a.response ?? 'never finished'}`);
    if ((a.outcome === 'temp' || a.outcome === 'perm') && !/^\d{3}[ -]\d\.\d{1,3}\.\d{1,3} /.test(a.response ?? '')) problems.push(`refusal without an enhanced status code: ${a.messageId}: ${a.response}`);
    if (a.outcome === 'perm') problems.push(`permanent refusal of a good message: ${a.messageId} (${a.window}): ${a.response}`);
    if (a.outcome === 'reset' && arrived) deliveredAfterReset++;
    if (a.outcome !== 'accepted' && a.outcome !== 'reset' && arrived) problems.push(`refused yet delivered: ${a.messageId} (${a.window}) was answered ${a.response} but arrived`);
  }
  const sentIds = new Set(attempts.map((a) => a.messageId));
  for (const id of downstream.keys()) if (!sentIds.has(id)) problems.push(`downstream got a message nobody sent: ${id}`);

  for (const e of master.events) {
    if (e.pendingAtScanner > 0) problems.push(`${e.node}: ${e.pendingAtScanner} events still in its outbox`);
    if (e.stored !== e.written || e.maxStored !== e.written) problems.push(`${e.node}: the scanner wrote events 1..${e.written}, the master stored ${e.stored} (highest ${e.maxStored})`);
  }
  const twice = [...logged.values()].filter((n) => n > 1).length;
  const eventsTable = [
    '| node | events written (outbox seq 1..n) | stored on the master (node + seq) | missing |',
    '| --- | ---: | ---: | ---: |',
    ...master.events.map((e) => `| ${e.node} | ${e.written} | ${e.stored} | ${Math.max(0, e.written - e.stored)} |`),
    '',
    `Duplicates: (node, seq) is the primary key of the master's event record, so an event sent again after a lost ack is recognised and skipped; the message log holds ${master.logged.length} rows and ${twice} Message-ID twice.`,
  ].join('\n');
  return { rows: [...rows.values()], total, problems, deliveredAfterReset, eventsTable, replies: replySummary(windows, attempts) };
}

export function formatTable(result: AuditResult): string {
  const head = '| fault | window (s) | sent | 250 | 4xx | 5xx | resets | conn. refused | hangs | delivered or quarantined | duplicates downstream | lost |';
  const line = (r: Row) => `| ${r.fault} | ${r.seconds.toFixed(1)} | ${r.sent} | ${r.accepted} | ${r.temp} | ${r.perm} | ${r.resets} | ${r.refused} | ${r.hangs} | ${r.delivered} | ${r.duplicates} | ${r.lost} |`;
  return [head, '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |', ...result.rows.map(line), line({ ...result.total, fault: '**total**' })].join('\n');
}

function replySummary(windows: readonly Window[], attempts: readonly Attempt[]): string {
  const lines: string[] = [];
  for (const w of windows) {
    const seen = count(attempts.filter((a) => a.window === w.label && a.outcome !== 'accepted').map((a) => `${a.outcome}: ${(a.response ?? '').replace(/\b[0-9a-f]{12,}\b/gi, '…').slice(0, 160)}`));
    for (const [reply, n] of [...seen].sort((a, b) => b[1] - a[1])) lines.push(`| ${w.label} | ${n} | ${reply.replace(/\|/g, '\\|')} |`);
  }
  return lines.length === 0 ? '(every attempt got 250)' : ['| window | count | what the client saw |', '| --- | ---: | --- |', ...lines].join('\n');
}
