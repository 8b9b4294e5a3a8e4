import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileDurably } from '@moat/storage';

/** What a scanner keeps after joining: its id and credential (mode 0600, never logged). */
export interface NodeCredential {
  readonly nodeId: string;
  readonly credential: string;
}

export function credentialStore(dataDir: string) {
  const file = join(dataDir, 'cluster-credential.json');
  return {
    load(): NodeCredential | undefined {
      if (!existsSync(file)) return undefined;
      return JSON.parse(readFileSync(file, 'utf8')) as NodeCredential;
    },
    save: (c: NodeCredential): Promise<void> => writeFileDurably(file, JSON.stringify(c)),
  };
}
