import { findBinary } from '@moat/engines';
import { engineSkip } from './engines.ts';

export { startRspamd, type Rspamd } from '@moat/engines';
export const RSPAMD = findBinary('rspamd');
export const RSPAMD_SKIP = engineSkip('rspamd', 'rspamd');
