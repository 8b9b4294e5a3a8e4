export {
  ActionSchema,
  AttachmentPolicySchema,
  AuthenticationSchema,
  ContentRuleSchema,
  ContentTargetSchema,
  GreylistingSchema,
  LimitsSchema,
  ListsSchema,
  NodeSettingsSchema,
  RecipientListSchema,
  RecipientListsSchema,
  MAX_LIST_RECIPIENTS,
  RecipientVerificationSchema,
  VerifiedDomainSchema,
  RouteSchema,
  RoutingSchema,
  QuarantineLifetimeSchema,
  DEFAULT_QUARANTINE_BYTES,
  DEFAULT_QUARANTINE_DAYS,
  MAX_RECIPIENT_LIST_ENTRIES,
  RetentionSchema,
  DEFAULT_RETENTION_BYTES,
  DEFAULT_RETENTION_DAYS,
  RulesSchema,
  ScoringSchema,
  TaggingSchema,
  type Action,
  type AttachmentPolicy,
  type ContentRule,
  type Greylisting,
  type Lists,
  type RecipientList,
  type RecipientLists,
  type RecipientVerification,
  type VerifiedDomain,
  type Route,
  type RouteHost,
  type Routing,
  type QuarantineLifetime,
  type Retention,
  type Rules,
} from './schema.ts';
export type { AttachmentFact, AuthFacts, AuthResult, EnvelopeDecision, MessageFacts, Reason, Verdict } from './facts.ts';
export { ACTION_STRENGTH, isAction, strongerAction, strongestAction } from './action.ts';
export { validateRecipientLists, validateRules } from './validate.ts';
export { compileOwnLists, compileRules, withOwnLists, type CompiledRules, type OwnLists, type OwnListsLookup } from './compile.ts';
export { checkClient, checkRecipient, checkSender } from './envelope.ts';
export { evaluateMessage } from './evaluate.ts';
export { GTUBE } from './gtube.ts';
export { demoRules } from './demo.ts';
export { decideGreylist, greylistKey, greylistText, greylistTriplet, type GreylistDecision, type GreylistEntry, type GreylistTimes, type GreylistTriplet } from './greylist.ts';
export { DETECTION_MODEL, SIGNAL_IDS, engineSignals, strongestHits, weighSignal, type DetectionModel, type Engine, type EngineHit, type EngineSignal, type SignalId } from './detection-model.ts';
export { ALWAYS_ACCEPTED, HarvestCounter, checkLocalPartRouting, compileStaticList, postmasterAddress, stripTag, unknownRecipient, verificationTarget, verificationUnavailable, type VerificationTarget } from './recipient-verify.ts';
export { RECIPIENT_LIST_DOMAIN, RECIPIENT_LIST_ENTRY_PATTERN } from './schema.ts';
export { patternProblem } from './address-match.ts';
export { compileIpList, parseIp, type IpMatcher } from './ip-match.ts';
export { compileRouting, isLoop, normalizeIp, orderTargets, type RouteTarget, type SelfIdentity } from './routing.ts';
export { quarantineExpiresAt, quarantineKind, type QuarantineKind } from './quarantine-lifetime.ts';
