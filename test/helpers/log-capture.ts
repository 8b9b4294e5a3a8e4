import pino, { type Logger } from 'pino';

/** One parsed JSON log line. */
export type LogLine = Record<string, unknown> & { level: number; event?: string; msg: string };

/**
 * A logger whose lines are kept, parsed, in memory (pino writes to the stream synchronously):
 * a test waits for the line that says something happened (a refusal, a vote) instead of
 * sleeping and hoping it has.
 */
export function captureLog(base: Record<string, unknown> = {}, level: pino.Level = 'debug'): { log: Logger; lines: LogLine[]; events(event: string, match?: Record<string, unknown>): LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino({ level, base }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  return {
    log,
    lines,
    /** The lines of one event code whose fields equal those of `match`. */
    events: (event, match = {}) => lines.filter((l) => l.event === event && Object.entries(match).every(([k, v]) => l[k] === v)),
  };
}
