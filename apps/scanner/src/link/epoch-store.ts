import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileDurably } from '@moat/storage';

/**
 * Management failover fencing: the highest master epoch this scanner has seen, kept in
 * `dataDir/master-epoch.json` (durable before it is acted on). A master below it is refused.
 */
export function epochStore(dataDir: string) {
  const file = join(dataDir, 'master-epoch.json');
  let cached = existsSync(file) ? Number((JSON.parse(readFileSync(file, 'utf8')) as { epoch: number }).epoch) || 0 : 0;
  return {
    load: (): number => cached,
    async save(epoch: number): Promise<void> {
      if (epoch <= cached) return;
      await writeFileDurably(file, JSON.stringify({ epoch }));
      cached = Math.max(cached, epoch);
    },
  };
}
export type EpochStore = ReturnType<typeof epochStore>;
