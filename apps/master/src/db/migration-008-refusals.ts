import type { Migration } from '@moat/storage';

/**
 * Refused SMTP transactions in the message log (a `message.logged` event with a `refusal`,
 * action `reject`, status `refused`): the stage, the reply sent and how many refusals the row
 * stands for (a flood from one address is aggregated by its scanner). `event_count` is what
 * the roll-ups and the log-derived reports count for the row: 1 for every message.
 */
export const REFUSALS_MIGRATION: Migration = {
  version: 8,
  description: 'refused transactions in the message log',
  sql: `
    ALTER TABLE messages ADD COLUMN refusal TEXT;
    ALTER TABLE messages ADD COLUMN event_count INTEGER NOT NULL DEFAULT 1;
  `,
};
