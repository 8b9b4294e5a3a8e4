import { engineSkip } from './engines.ts';

export { startClamd, EICAR, type Clamd } from '@moat/engines';
export const CLAMD_SKIP = engineSkip('clamd', 'clamav-daemon');
