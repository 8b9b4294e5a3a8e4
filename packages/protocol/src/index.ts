export * from './frames.ts';
export * from './events.ts';
export * from './learn.ts';
export * from './verify.ts';
export * from './message-test.ts';
export * from './recipient-lists.ts';
export { FrameError, decodeToMaster, decodeToScanner, encodeFrame, validator } from './codec.ts';
export { newNonce, newNodeKeyPair, publicKeyText, helloSignature, helloVerifies, newJoinToken, joinTokenHash, JOIN_TOKEN_PATTERN, proofMatches } from './auth.ts';
export { PendingRequests } from './pending-requests.ts';
export { acceptProtocol, offerProtocol, OLDEST_PROTOCOL_VERSION, type Negotiation } from './version.ts';
// ── management failover: the master ⇄ master replication link ──
export * from './replication.ts';
export { MAX_REPORTED_ROUTES, ROUTES_PROTOCOL_VERSION, RouteHealthSchema, type RouteHealth } from './routes.ts';
export { ENGINES_PROTOCOL_VERSION, EngineHealthSchema, MAX_REPORTED_ENGINES, type EngineHealth } from './engines.ts';
export { MAX_REPORTED_REASON_KINDS, MAX_REPORTED_REFUSAL_CODES, METRICS_PROTOCOL_VERSION, NodeMetricsSchema, type NodeMetrics } from './node-metrics.ts';
