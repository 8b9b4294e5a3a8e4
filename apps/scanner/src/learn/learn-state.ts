import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileDurably } from '@moat/storage';

export interface LearnState {
  /** The highest learn sequence applied to this node's engines. */
  readonly seq: number;
  /** Events of each class applied (a reversal counts as one of its new class). */
  readonly spam: number;
  readonly ham: number;
  readonly at: number;
}

/**
 * Where this node stands in the master's learn log, in `dataDir/learn-state.json`, written
 * durably after each event is applied and before it is acknowledged: after a crash or an
 * offline spell the node tells the master this sequence and catches up from the next one. A
 * crash between applying and recording applies that one event again, which the engines take as
 * "already learned".
 */
export function learnStateStore(dataDir: string) {
  const file = join(dataDir, 'learn-state.json');
  let cached: LearnState = existsSync(file) ? parse(readFileSync(file, 'utf8')) : { seq: 0, spam: 0, ham: 0, at: 0 };
  return {
    load: (): LearnState => cached,
    async save(state: LearnState): Promise<void> {
      await writeFileDurably(file, JSON.stringify(state));
      cached = state;
    },
  };
}
export type LearnStateStore = ReturnType<typeof learnStateStore>;

function parse(text: string): LearnState {
  const v = JSON.parse(text) as Partial<LearnState>;
  const n = (x: unknown) => (typeof x === 'number' && Number.isInteger(x) && x >= 0 ? x : 0);
  return { seq: n(v.seq), spam: n(v.spam), ham: n(v.ham), at: n(v.at) };
}
