import type { Role } from './api.ts';

/** Mirrors the API's role table (apps/master/README.md) so the console hides what a role may not do. */
const RANK: Record<Role, number> = { auditor: 0, operator: 1, admin: 2 };

export const atLeast = (role: Role, required: Role): boolean => RANK[role] >= RANK[required];

export const can = {
  /** Open, release and delete quarantined messages; view and re-deliver retained copies. */
  handleQuarantine: (role: Role) => atLeast(role, 'operator'),
  /** Save rules, roll back. */
  editRules: (role: Role) => atLeast(role, 'admin'),
  /** Create, change, disable users; see and revoke everyone's tokens. */
  manageUsers: (role: Role) => atLeast(role, 'admin'),
  /** Teach every scanner that a message is spam or not spam (docs/detection.md, "Learning"). */
  learn: (role: Role) => atLeast(role, 'admin'),
  /** Run "what would happen to this message?" on a scanner (it reads the rules and, from the log, a message's content). */
  testMessages: (role: Role) => atLeast(role, 'operator'),
  /** Remove a stopped node from the cluster. */
  manageNodes: (role: Role) => atLeast(role, 'admin'),
};
