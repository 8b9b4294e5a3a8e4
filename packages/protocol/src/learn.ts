import { Type, type Static } from 'typebox';

/**
 * Cluster-wide learning (issue 17): the master keeps one ordered log of learn events (a message
 * taught as spam or ham) and sends it to every scanner, which applies each event to its own
 * engines (SpamAssassin's Bayes, Rspamd's Bayes and fuzzy storage) and acknowledges the highest
 * sequence it has applied. A scanner keeps that sequence on disk, so after being offline it says
 * where it stopped and catches up from there. Frames added in protocol version 2.
 */
export const LEARN_PROTOCOL_VERSION = 2;
/** The start of a message that is kept and sent: Bayes and fuzzy hashing read the start (spamc sends at most 500 KB). */
export const MAX_LEARN_BYTES = 512 * 1024;

export const LearnClassSchema = Type.Union([Type.Literal('spam'), Type.Literal('ham')], { description: 'What the message is.' });
export type LearnClass = Static<typeof LearnClassSchema>;

/** master → scanner: one learn event, sent in sequence order, the next only after the previous is acknowledged. */
export const LearnEventFrame = Type.Object(
  {
    type: Type.Literal('learn.event'),
    seq: Type.Integer({ minimum: 1, description: 'The event\'s place in the master\'s learn log.' }),
    eventId: Type.String({ pattern: '^[0-9a-f]{32}$' }),
    class: LearnClassSchema,
    unlearn: Type.Optional(Type.Union([Type.Literal('spam'), Type.Literal('ham')], { description: 'A reversal: the class this message was taught before, to be forgotten first.' })),
    digest: Type.String({ pattern: '^[0-9a-f]{64}$', description: 'SHA-256 of the whole message.' }),
    data: Type.String({ minLength: 1, maxLength: Math.ceil((MAX_LEARN_BYTES * 4) / 3) + 4, description: 'The message (its first MAX_LEARN_BYTES), base64.' }),
  },
  { additionalProperties: false },
);

/**
 * scanner → master: the highest sequence this node has applied (durably recorded). Sent once
 * right after `welcome` (where it stopped) and after every event. With `error`, the next event
 * failed on an engine of this node: it stays pending there and is retried.
 */
export const LearnAckFrame = Type.Object(
  {
    type: Type.Literal('learn.ack'),
    seq: Type.Integer({ minimum: 0 }),
    error: Type.Optional(Type.String({ maxLength: 1000 })),
  },
  { additionalProperties: false },
);

export type LearnEvent = Static<typeof LearnEventFrame>;
export type LearnAck = Static<typeof LearnAckFrame>;
