export * from './frames.ts';
export * from './events.ts';
export { FrameError, decodeToMaster, decodeToScanner, encodeFrame, validator } from './codec.ts';
export { newNonce, newCredential, helloProof, proofMatches } from './auth.ts';
export { PendingRequests } from './pending-requests.ts';
