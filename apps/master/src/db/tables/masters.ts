import type { Generated } from 'kysely';

/** The masters sharing the database and their peer secret (migration 20). */
export interface MasterTables {
  masters: MastersTable;
  master_secret: MasterSecretTable;
}

export interface MastersTable {
  /** The master's `node.name`, as `nodes.linked_to` names it. */
  name: string;
  /** Where the other masters forward requests to it (`http.peerUrl`, or its listen address). */
  url: string;
  /** SHA-256 fingerprint of its TLS certificate (`AB:CD:…`), pinned by the others; '' without TLS. */
  fingerprint: Generated<string>;
  /** Epoch ms of its last refresh: a row left unrefreshed is a master that is gone. */
  seen_at: number;
}

export interface MasterSecretTable {
  /** Always 1: there is one secret. */
  id: number;
  secret: string;
}
