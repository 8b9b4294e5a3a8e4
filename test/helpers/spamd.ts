import { engineSkip } from './engines.ts';

export { startSpamd, type Spamd } from '@moat/engines';
export const SPAMD_SKIP = engineSkip('spamd', 'spamd');
