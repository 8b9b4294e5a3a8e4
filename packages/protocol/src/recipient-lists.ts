import { Type, type Static } from 'typebox';

/**
 * The end users' own allow and block lists on the link (issue 18). The master keeps them apart
 * from the rules, with a version stream of their own: an end user's click makes an end-user
 * lists version, never a rules version, so an admin's rules save cannot undo it and a rules
 * push never carries it. The master sends the whole set in `recipient-lists.push` after the
 * welcome when the hello's `recipientListsVersion` is not the current one, and to every
 * scanner on each change; the scanner validates, persists and applies it beside the rules,
 * and answers `recipient-lists.ack`. Frames added in protocol version 8: a scanner speaking 7
 * gets the lists inside the rules it is pushed (`recipientLists`), as before.
 */
export const RECIPIENT_LISTS_PROTOCOL_VERSION = 8;

export const RecipientListsPushFrame = Type.Object(
  {
    type: Type.Literal('recipient-lists.push'),
    version: Type.Integer({ minimum: 0, description: 'The end-user lists version (0: none made yet).' }),
    lists: Type.Unknown({ description: 'Every recipient\'s lists (`{ "bob@example.com": { allow, block } }`), validated by the scanner with validateRecipientLists.' }),
  },
  { additionalProperties: false },
);
export const RecipientListsAckFrame = Type.Object(
  { type: Type.Literal('recipient-lists.ack'), version: Type.Integer({ minimum: 0 }), ok: Type.Boolean(), error: Type.Optional(Type.String({ maxLength: 2000 })) },
  { additionalProperties: false },
);
export type RecipientListsPush = Static<typeof RecipientListsPushFrame>;
