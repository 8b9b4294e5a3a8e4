import type { Readable } from 'node:stream';
import { Type } from 'typebox';
import { ConfigError } from '@moat/config';
import { validateRules } from '@moat/rules';
import { MAX_FRAME_BYTES, MAX_TEST_MESSAGE_BYTES, MessageTestAnswerSchema, TestEnvelopeSchema, type TestEnvelope } from '@moat/protocol';
import type { AppDeps } from '../../app-deps.ts';
import type { ClusterHub } from '../../cluster/hub.ts';
import { getMessage, type MessageDetail } from '../../data/messages-repository.ts';
import { currentRules } from '../../rules/rules-repository.ts';
import { ApiError, notFound } from '../../http/api-error.ts';
import { errorResponses } from '../../http/schemas.ts';
import { MessageIdSchema, NodeIdSchema } from '../data/data-schemas.ts';
import type { TypedApp } from '../data/typed-app.ts';

const E = TestEnvelopeSchema.properties;
const EnvelopeInput = Type.Object(
  { clientIp: E.clientIp, helo: Type.Optional(E.helo), mailFrom: E.mailFrom, rcptTo: E.rcptTo },
  { additionalProperties: false, description: 'The SMTP envelope the message would arrive with. With `fromLog`, each field left out is the logged one.' },
);
const Body = Type.Object(
  {
    node: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'The scanner (id or name) that runs the test; default: the node that logged the message, else the first online one.' })),
    envelope: Type.Optional(Type.Partial(EnvelopeInput)),
    message: Type.Optional(Type.String({ minLength: 1, description: `The whole message (RFC 5322) as text, at most ${MAX_TEST_MESSAGE_BYTES} bytes and the rules' limits.maxMessageBytes.` })),
    messageBase64: Type.Optional(Type.String({ minLength: 1, pattern: '^[A-Za-z0-9+/=\\s]+$', description: 'The message as base64 (an uploaded file with 8-bit bytes), instead of `message`.' })),
    fromLog: Type.Optional(Type.Object({ nodeId: NodeIdSchema, id: MessageIdSchema }, { additionalProperties: false, description: 'A logged message: its retained copy (else its quarantined file) is fetched from its node.' })),
    rules: Type.Optional(Type.Object({}, { additionalProperties: true, description: 'A draft rules document (validated as `PUT /rules` would; its version does not matter); absent: the rules in force.' })),
  },
  { additionalProperties: false },
);
const Answer = Type.Object({ node: Type.String({ description: 'The scanner that ran it.' }), ...MessageTestAnswerSchema.properties });
/** A message at the link's cap, as JSON text (escapes) or base64, plus a rules document. */
const BODY_LIMIT = 4 * MAX_TEST_MESSAGE_BYTES + 4 * 1024 * 1024;
/** The frame's type, id and envelope (at most 100 recipients of 320 characters) around the message and the draft. */
const FRAME_OVERHEAD = 64 * 1024;

/**
 * "What would happen to this message?" (issue 20): the master runs no engines, so a scanner runs
 * the message through its pipeline as a dry run (`message.test` over the link) and answers every
 * envelope check, reason and score, and the verdict. Admin or operator: it reads the rules and
 * (with `fromLog`) a logged message's content: that use of a logged message is audited
 * (`message.test`), a pasted message is not (it is nobody's mail on the gateway).
 */
export function registerMessageTestRoutes(app: TypedApp, hub: ClusterHub, deps: AppDeps): void {
  app.post('/messages/test', {
    config: { role: 'operator' },
    bodyLimit: BODY_LIMIT,
    schema: {
      summary: 'What would happen to this message: every check, rule, list and engine signal, and the verdict, under the current rules or a draft',
      description: 'Run on one online scanner as a dry run: nothing is stored, relayed, quarantined, logged as mail or learned. Give `message` (or `messageBase64`) with an `envelope`, or `fromLog`. Greylisting and recipient verification are not run. 502 MOAT_ERR_NODE_TOO_OLD from a scanner older than protocol 7.',
      tags: ['messages'],
      body: Body,
      response: { 200: Answer, ...errorResponses(400, 404, 410, 413), 502: Type.Unknown({ description: 'The scanner is too old (MOAT_ERR_NODE_TOO_OLD) or failed.' }), 503: Type.Unknown({ description: 'No scanner online (MOAT_ERR_NODE_OFFLINE).' }) },
    },
  }, async (request) => {
    const body = request.body;
    const given = [body.message !== undefined, body.messageBase64 !== undefined, body.fromLog !== undefined].filter(Boolean).length;
    if (given !== 1) throw invalid('body.message', 'give exactly one of message, messageBase64 or fromLog');

    const rules = body.rules === undefined ? (await currentRules(deps.database.db))?.document : draft(body.rules);
    if (!rules) throw new ApiError(409, 'MOAT_ERR_NO_RULES', 'there are no rules yet to test against');
    const limit = Math.min(MAX_TEST_MESSAGE_BYTES, rules.limits.maxMessageBytes);
    const field = body.message !== undefined ? 'body.message' : body.messageBase64 !== undefined ? 'body.messageBase64' : 'body.fromLog';

    const logged = body.fromLog ? await getMessage(deps.database.db, body.fromLog.nodeId, body.fromLog.id) : undefined;
    if (body.fromLog && !logged) throw notFound(`message ${body.fromLog.id} of node ${body.fromLog.nodeId}`);
    let message: Buffer;
    if (body.message !== undefined) message = Buffer.from(body.message, 'utf8');
    else if (body.messageBase64 !== undefined) message = Buffer.from(body.messageBase64, 'base64');
    else message = await fetchLogged(hub, logged!, limit);
    if (message.length === 0) throw invalid(field, 'is empty');
    if (message.length > limit) throw new ApiError(413, 'MOAT_ERR_TOO_LARGE', `the message is ${message.length} bytes; a test takes at most ${limit}`, [{ field, message: `at most ${limit} bytes (${limit === MAX_TEST_MESSAGE_BYTES ? 'what one cluster frame carries' : 'the rules\' limits.maxMessageBytes'})` }]);

    // The message (base64) and the draft travel in one frame: one past the link's cap would close the link.
    const frameBytes = Math.ceil(message.length / 3) * 4 + (body.rules !== undefined ? Buffer.byteLength(JSON.stringify(rules)) : 0) + FRAME_OVERHEAD;
    if (frameBytes > MAX_FRAME_BYTES) {
      throw new ApiError(413, 'MOAT_ERR_TOO_LARGE', `the message and the draft rules take ${frameBytes} bytes on the cluster link; at most ${MAX_FRAME_BYTES} fit one frame`, [{ field: body.rules !== undefined ? 'body.rules' : field, message: 'too large to send with this message: test a smaller message or a smaller draft' }]);
    }
    const envelope = envelopeOf(body.envelope, logged);
    const nodeId = await pickNode(hub, body.node, logged?.nodeId);
    const answer = await hub.testMessage(nodeId, { envelope, message, ...(body.rules !== undefined ? { rules } : {}) });
    // A logged message's content was read on its node (as `message.view` records a fetch); a pasted one is nobody's mail.
    if (logged) await request.audit('message.test', `${logged.nodeName ?? logged.nodeId}/${logged.id}`, { action: answer.verdict.action, draft: body.rules !== undefined, node: nodeId });
    deps.log.info({ event: 'MESSAGE_TESTED', node: nodeId, action: answer.verdict.action, draft: body.rules !== undefined, fromLog: body.fromLog ? `${body.fromLog.nodeId}/${body.fromLog.id}` : undefined }, 'message tested on a scanner (dry run)');
    return { node: (await hub.nodes()).find((n) => n.id === nodeId)?.name ?? nodeId, ...answer };
  });
}

function invalid(field: string, message: string): ApiError {
  return new ApiError(400, 'MOAT_ERR_VALIDATION', 'Bad Request', [{ field, message }]);
}

function draft(document: object) {
  try {
    return validateRules({ ...document, version: 0 }, 'draft rules');
  } catch (err) {
    if (err instanceof ConfigError) throw new ApiError(400, 'MOAT_ERR_RULES_INVALID', 'the draft rules are invalid', err.errors.map((e) => ({ field: `body.rules.${e.key}`, message: e.message })));
    throw err;
  }
}

function envelopeOf(given: Partial<TestEnvelope> | undefined, logged: { clientIp: string; helo: string; mailFrom: string; rcptTo: string[] } | undefined): TestEnvelope {
  const e = { clientIp: given?.clientIp ?? logged?.clientIp, helo: given?.helo ?? logged?.helo ?? '', mailFrom: given?.mailFrom ?? logged?.mailFrom, rcptTo: given?.rcptTo ?? logged?.rcptTo };
  for (const key of ['clientIp', 'mailFrom', 'rcptTo'] as const) if (e[key] === undefined) throw invalid(`body.envelope.${key}`, 'is required (or give fromLog)');
  if (e.rcptTo!.length === 0) throw invalid('body.envelope.rcptTo', 'must name at least one recipient');
  return e as TestEnvelope;
}

async function pickNode(hub: ClusterHub, asked: string | undefined, holder: string | undefined): Promise<string> {
  if (asked !== undefined) {
    const n = (await hub.nodes()).find((x) => x.id === asked || x.name === asked);
    if (!n) throw notFound(`node ${asked}`);
    return n.id; // offline: the hub answers 503 naming it
  }
  // The node that logged the message, wherever it is linked (several masters forward), else any the hub can reach.
  if (holder !== undefined && (await hub.nodes()).some((n) => n.id === holder && n.online)) return holder;
  const first = (await hub.relayNodeIds())[0];
  if (first === undefined) throw new ApiError(503, 'MOAT_ERR_NODE_OFFLINE', 'no scanner is online to run the test');
  return first;
}

/** A logged message's content: its retained copy, else its quarantined file, read up to the limit. */
async function fetchLogged(hub: ClusterHub, m: MessageDetail, limit: number): Promise<Buffer> {
  let stream: Readable;
  if (m.retained?.status === 'kept') stream = await hub.fetchRetained(m.nodeId, m.id);
  else if (m.quarantine?.status === 'held') stream = await hub.fetchQuarantined(m.nodeId, m.id);
  else if (m.retained) throw new ApiError(410, 'MOAT_ERR_GONE', `the retained copy of message ${m.id} is gone`, [{ field: 'body.fromLog', message: 'its copy expired' }]);
  else throw new ApiError(404, 'MOAT_ERR_NOT_RETAINED', `no copy of message ${m.id} was kept (retention was off for its verdict, or it was rejected)`, [{ field: 'body.fromLog', message: 'no copy kept' }]);
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      stream.destroy();
      throw new ApiError(413, 'MOAT_ERR_TOO_LARGE', `message ${m.id} is larger than a test takes (${limit} bytes)`, [{ field: 'body.fromLog', message: `at most ${limit} bytes` }]);
    }
    parts.push(chunk);
  }
  return Buffer.concat(parts);
}
