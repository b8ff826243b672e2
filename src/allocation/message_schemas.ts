// The Redis message contracts (SPEC section 4): one zod schema per message validates what comes
// in, types what goes out, and generates the AsyncAPI document, so none of them can drift.
// Adapters and entrypoints import this; the domain and the service layer never see wire shapes.
import { z } from 'zod';

export const MAX_INT = 2 ** 31 - 1;

// PostgreSQL text cannot hold NUL, and a lone UTF-16 surrogate is not valid Unicode (it would
// fail as JSON in the outbox): both are input errors, caught here rather than as a 500 there.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** A non-empty name of at most 255 characters (refs, skus, order ids). */
export const Text = z
  .string()
  .min(1)
  .max(255) // the ids' limit, MAX_ID_LENGTH, too
  .refine((s) => !s.includes('\u0000'), 'must not contain NUL characters')
  .refine((s) => !LONE_SURROGATE.test(s), 'must be valid Unicode');

/** W3C trace context: version-traceid-parentid-flags, lower-case hex. */
export const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** The longest inbound message id, stored whole (inbox, outbox correlation, dead letters). */
export const MAX_ID_LENGTH = 255;

/** An inbound message id: a string of 1-255 characters, or a number. */
const MessageId = z.union([Text, z.number()]);

/** The inbound `change_batch_quantity` message. */
export const ChangeBatchQuantityMessage = z
  .object({
    batchref: Text.describe('The batch whose purchased quantity changes'),
    qty: z.number().int().nonnegative().max(MAX_INT).describe('The new purchased quantity'),
    message_id: MessageId.optional().describe('Makes a redelivery harmless: applied once'),
    id: MessageId.optional().describe('Same as message_id, for senders that name it id'),
    // Not checked against TRACEPARENT: a malformed trace context starts a new trace (W3C), it
    // does not make the message invalid.
    traceparent: z
      .string()
      .max(255)
      .optional()
      .describe('W3C traceparent of the sender; its handling continues that trace'),
  })
  .meta({ title: 'change_batch_quantity', examples: [{ batchref: 'batch-001', qty: 20 }] });

export type ChangeBatchQuantityMessage = z.output<typeof ChangeBatchQuantityMessage>;

/** The outbound `line_allocated` message: the four SPEC fields and the version-1 envelope. */
export const LineAllocatedMessage = z
  .object({
    orderid: Text.describe('The order line that was allocated'),
    sku: Text,
    qty: z.number().int().positive().max(MAX_INT),
    batchref: Text.describe('The batch the line is allocated to'),
    type: z.literal('line_allocated'),
    version: z.literal(1).describe('A future incompatible shape gets a new version'),
    occurred_at: z.iso.datetime().describe('When the allocation committed (ISO-8601, UTC)'),
    message_id: z.string().min(1).describe('Stable: a redelivery repeats it'),
    correlation_id: z
      .string()
      .min(1)
      .describe('The causal chain (HTTP request id or inbound message id)'),
    traceparent: z
      .string()
      .regex(TRACEPARENT)
      .optional()
      .describe('W3C traceparent of the delivery that published it; present when tracing is on'),
  })
  .meta({
    title: 'line_allocated',
    examples: [
      {
        orderid: 'order-123',
        sku: 'SMALL-TABLE',
        qty: 10,
        batchref: 'batch-001',
        type: 'line_allocated',
        version: 1,
        occurred_at: '2026-11-27T12:00:00.000Z',
        message_id: '42',
        correlation_id: '3f0c1c1e-7d1b-4a5e-9a43-0d6b7b1f2c3d',
      },
    ],
  });

export type LineAllocatedMessage = z.output<typeof LineAllocatedMessage>;
