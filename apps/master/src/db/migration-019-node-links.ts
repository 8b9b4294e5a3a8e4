import type { Migration } from '@moat/storage';

/**
 * Which master holds a node's link (issue 21: several masters on one PostgreSQL). A master that
 * starts marks offline only the nodes linked to it, not those another master serves; a master
 * that loses a link marks the node offline only if it is still linked there (the node may
 * already be on another master). The same text on both engines.
 */
export const NODE_LINKS_MIGRATION: Migration = {
  version: 19,
  description: 'the master that holds each node\'s link',
  sql: `ALTER TABLE nodes ADD COLUMN linked_to TEXT NOT NULL DEFAULT '';`,
};
