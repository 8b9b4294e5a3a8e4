import type { Generated } from 'kysely';
import type { CalloutResult, LearnClass } from '@moat/protocol';

/** Nodes, join tokens, greylist, verification sources and call-out cache, learning (migrations 3, 6, 7, 10, 14, 16). */
export interface ClusterTables {
  nodes: NodesTable;
  join_tokens: JoinTokensTable;
  greylist: GreylistTable;
  verification_sources: VerificationSourcesTable;
  callout_cache: CalloutCacheTable;
  learn_messages: LearnMessagesTable;
  learn_events: LearnEventsTable;
  learn_nodes: LearnNodesTable;
}

export interface NodesTable {
  id: string;
  name: string;
  /** An empty legacy column (migration 10 erased the HMAC credentials). */
  credential_hash: string;
  public_key: Generated<string>;
  joined_at: number;
  address: Generated<string>;
  smtp_address: Generated<string>;
  software: Generated<string>;
  rules_version: Generated<number>;
  last_seen: Generated<number>;
  online: Generated<number>;
  /** The master that holds its link (`node.name` of that master; '' before migration 19). */
  linked_to: Generated<string>;
  queue_depth: Generated<number>;
  outbox_backlog: Generated<number>;
  last_acked_seq: Generated<number>;
  removed_at: number | null;
}

export interface JoinTokensTable {
  token_hash: string;
  node_name: string;
  replace_key: Generated<number>;
  created_at: number;
  expires_at: number;
  created_by: string;
  used_at: number | null;
  used_by_node: string | null;
}

export interface GreylistTable {
  network: string;
  sender: string;
  recipient: string;
  first_seen: number;
  passed_at: number | null;
  expires_at: number;
}

export interface VerificationSourcesTable {
  name: string;
  kind: string;
  /** The source as JSON (with its bind password: the API shows it redacted). */
  settings: string;
  updated_at: number;
  updated_by: string;
}

export interface CalloutCacheTable {
  address: string;
  result: CalloutResult;
  expires_at: number;
}

export interface LearnMessagesTable {
  digest: string;
  size: number;
  /** The message's first MAX_LEARN_BYTES, base64. */
  data: string;
  created_at: number;
}

export interface LearnEventsTable {
  seq: Generated<number>;
  id: string;
  class: LearnClass;
  unlearn: LearnClass | null;
  digest: string;
  size: number;
  source: 'admin' | 'user' | 'cli';
  actor: string;
  origin_node: string | null;
  origin_message: string | null;
  created_at: number;
}

export interface LearnNodesTable {
  node_id: string;
  seq: Generated<number>;
  applied_at: number | null;
  error: string | null;
  error_at: number | null;
}
