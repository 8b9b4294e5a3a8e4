import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

const RESULTS = fileURLToPath(new URL('../bench/results/faults.md', import.meta.url));

/** The fault run's tables as markdown: printed by the test and written to test/bench/results/faults.md. */
export function writeReport(r: { table: string; eventsTable: string; replies: string; notes: readonly string[]; problems: readonly string[]; attempts: number }): string {
  const text = [
    '# Fault injection run (`pnpm test:faults`)',
    '',
    `${new Date().toISOString()}, ${availableParallelism()} cores, Node ${process.version}. One client (4 sessions, one message per connection, a 25 ms pause between two messages of a session, every 10th message asks for quarantine) through the virtual address; ${r.attempts} attempts in all, each counted in the window in which it ended. See docs/faults.md for what each fault proves.`,
    '',
    r.table,
    '',
    'Events on the master (after the drain, every node stopped):',
    '',
    r.eventsTable,
    '',
    'Every attempt that did not get a 250:',
    '',
    r.replies,
    '',
    ...r.notes.map((n) => `- ${n}`),
    '',
    r.problems.length === 0 ? '**Audit: passed** (zero lost, zero duplicated events on the master, every refusal a 4xx with an enhanced status code, no hang).' : `**Audit: FAILED**\n\n${r.problems.slice(0, 50).map((p) => `- ${p}`).join('\n')}${r.problems.length > 50 ? `\n- … and ${r.problems.length - 50} more` : ''}`,
    '',
  ].join('\n');
  writeFileSync(RESULTS, text);
  return text;
}
