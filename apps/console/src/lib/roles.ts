import type { Role } from './api.ts';

/** Mirrors the API's role table (apps/master/README.md) so the console hides what a role may not do. */
const RANK: Record<Role, number> = { auditor: 0, operator: 1, admin: 2 };

export const can = {
  /** Open, release and delete quarantined messages. */
  handleQuarantine: (role: Role) => RANK[role] >= RANK.operator,
  /** Save rules, roll back. */
  editRules: (role: Role) => RANK[role] >= RANK.admin,
};
