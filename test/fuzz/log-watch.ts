/**
 * A pino logger for a component under fuzzing that keeps every line at error level or above
 * (50+): a fuzzed input must never make a server log an error (an unexpected exception, a
 * failed write), only the warnings and infos of a refused input.
 */
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';

export interface LogWatch {
  readonly log: Logger;
  /** Error and fatal lines seen so far (parsed), at most 20 kept. */
  readonly errors: Record<string, unknown>[];
  /** Lines seen per `event` code, for the report. */
  readonly events: Map<string, number>;
}

export function watchLog(base: Record<string, unknown>): LogWatch {
  const errors: Record<string, unknown>[] = [];
  const events = new Map<string, number>();
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        const entry = JSON.parse(line) as Record<string, unknown>;
        const event = String(entry.event ?? '(none)');
        events.set(event, (events.get(event) ?? 0) + 1);
        if (Number(entry.level) >= 50 && errors.length < 20) errors.push(entry);
      }
      done();
    },
  });
  const log = pino({ level: 'info', base }, sink);
  return { log, errors, events };
}
