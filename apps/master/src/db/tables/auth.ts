import type { Generated } from 'kysely';

/** Users, console sessions, API tokens (migrations 1 and 13). */
export interface AuthTables {
  users: UsersTable;
  sessions: SessionsTable;
  api_tokens: ApiTokensTable;
}

export interface UsersTable {
  id: Generated<number>;
  username: string;
  password_hash: string;
  role: 'auditor' | 'operator' | 'admin';
  created_at: number;
  disabled: Generated<number>;
}

export interface SessionsTable {
  id: string;
  user_id: number;
  created_at: number;
  expires_at: number;
  ip: string;
  user_agent: string;
}

export interface ApiTokensTable {
  id: string;
  user_id: number;
  name: string;
  token_hash: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
  role: 'auditor' | 'operator' | 'admin';
  expires_at: number;
  parent_id: string | null;
}
