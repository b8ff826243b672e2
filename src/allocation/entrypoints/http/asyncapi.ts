// The AsyncAPI 3 document of the Redis channels (SPEC section 4), generated from the zod schemas
// the consumer validates with and the publisher builds with, so it cannot drift from either.
import { z } from 'zod';
import { ChangeBatchQuantityMessage, LineAllocatedMessage } from '../../message_schemas';

/**
 * A message schema as JSON Schema draft 07, the base of AsyncAPI's default schema format.
 * Objects stay open: within one version a consumer must accept fields added later.
 */
function payload(schema: z.ZodType): Record<string, unknown> {
  const json: Record<string, unknown> = z.toJSONSchema(schema, { target: 'draft-7', io: 'input' });
  delete json.$schema; // the document's schema format says which dialect it is
  return json;
}

export function asyncApiDocument(): object {
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'allocation',
      version: '1.0.0',
      description:
        'Redis pub/sub messages of the allocation service. Outbound messages carry the ' +
        'version-1 envelope; every one is published after its change committed, at least ' +
        'once (a redelivery repeats its message_id).',
    },
    defaultContentType: 'application/json',
    channels: {
      change_batch_quantity: {
        address: 'change_batch_quantity',
        description: 'Changes the purchased quantity of a batch; lines that no longer fit move.',
        messages: {
          changeBatchQuantity: { $ref: '#/components/messages/changeBatchQuantity' },
        },
      },
      line_allocated: {
        address: 'line_allocated',
        description: 'An order line was allocated to a batch (re-allocations included).',
        messages: { lineAllocated: { $ref: '#/components/messages/lineAllocated' } },
      },
    },
    operations: {
      receiveChangeBatchQuantity: {
        action: 'receive',
        summary: 'The service consumes quantity changes.',
        channel: { $ref: '#/channels/change_batch_quantity' },
        messages: [{ $ref: '#/channels/change_batch_quantity/messages/changeBatchQuantity' }],
      },
      sendLineAllocated: {
        action: 'send',
        summary: 'The service publishes each allocation.',
        channel: { $ref: '#/channels/line_allocated' },
        messages: [{ $ref: '#/channels/line_allocated/messages/lineAllocated' }],
      },
    },
    components: {
      messages: {
        changeBatchQuantity: {
          name: 'change_batch_quantity',
          title: 'Change batch quantity',
          contentType: 'application/json',
          payload: payload(ChangeBatchQuantityMessage),
        },
        lineAllocated: {
          name: 'line_allocated',
          title: 'Line allocated',
          contentType: 'application/json',
          payload: payload(LineAllocatedMessage),
        },
      },
    },
  };
}
