import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Db } from '@moat/storage';
import type { MasterDatabase } from './db/database.ts';
import type { MasterConfig } from './config.ts';

/**
 * What the master's HTTP app is built from. One composition root (master.ts) creates these
 * and passes them in; nothing imports a singleton.
 */
export interface AppDeps {
  readonly config: MasterConfig;
  /** The raw SQLite handle, on SQLite only (the online backup; tests): routes and repositories use `database`. */
  readonly db?: Db | undefined;
  /** The same database through the common query layer (SQLite or PostgreSQL): repositories moved there take `database.db`. */
  readonly database: MasterDatabase;
  readonly log: Logger;
  readonly now: () => number;
  readonly cluster: ClusterControl;
}

/** Roles, weakest first: auditor reads; operator also handles quarantine and queues; admin does everything. */
export type Role = 'auditor' | 'operator' | 'admin';
export const ROLE_RANK: Readonly<Record<Role, number>> = { auditor: 0, operator: 1, admin: 2 };

/** The signed-in principal of a request (a console session or an API token). */
export interface Principal {
  readonly userId: number;
  readonly username: string;
  readonly role: Role;
  /** 'session' or 'token:<token id>' */
  readonly via: string;
}

/** A request to a scanner could not be served because the node is not connected. */
export class NodeOfflineError extends Error {
  readonly code = 'MOAT_ERR_NODE_OFFLINE';
  readonly nodeName: string;
  constructor(nodeName: string) {
    super(`node ${nodeName} is offline; the message is held there and can be reached when it reconnects`);
    this.name = 'NodeOfflineError';
    this.nodeName = nodeName;
  }
}

/** A scanner answered a request with an error (or did not answer in time). */
export class NodeRequestError extends Error {
  readonly code: string;
  readonly nodeName: string;
  constructor(nodeName: string, code: string, message: string) {
    super(message);
    this.name = 'NodeRequestError';
    this.code = code;
    this.nodeName = nodeName;
  }
}

/** The cluster link as the HTTP app sees it (implemented by cluster/hub.ts). */
export interface ClusterControl {
  /** Push the current rules version to every online scanner. */
  rulesChanged(): void;
  /** Push the current end-user lists version to every online scanner (recipient-lists/). */
  recipientListsChanged(): void;
  /** Stream a quarantined message from the node that holds it (throws NodeOfflineError). */
  fetchQuarantined(nodeId: string, messageId: string): Promise<Readable>;
  quarantineAction(nodeId: string, messageId: string, action: 'release' | 'delete'): Promise<void>;
  /** Stream a message's retained copy from its node (throws NodeOfflineError; MOAT_ERR_GONE once expired). */
  fetchRetained(nodeId: string, messageId: string): Promise<Readable>;
  /** Queue a retained copy for delivery again on its node, to its original or the given recipients. */
  redeliverRetained(nodeId: string, messageId: string, rcptTo: readonly string[] | undefined): Promise<{ queueId: string; rcptTo: string[] }>;
  queueList(nodeId: string, limit: number): Promise<unknown>;
  queueAction(nodeId: string, queueId: string, action: 'retry' | 'delete' | 'bounce'): Promise<void>;
}
