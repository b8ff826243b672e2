// The history routes' query shapes and their part of the OpenAPI document (SPEC section 3).
import { extendZodWithOpenApi, type OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { Text } from '../../message_schemas';

extendZodWithOpenApi(z); // idempotent; this module may load before api_schemas.ts

export const HistoryLimit = z.coerce.number().int().min(1).max(1000);
export const DEFAULT_HISTORY_LIMIT = 100;
/** Where a page starts: the id the previous page's Link names (exclusive). */
export const HistoryBefore = z
  .string()
  .regex(/^[1-9][0-9]{0,17}$/, 'must be the position a Link header gave');

const Cause = z
  .object({ kind: z.enum(['http', 'message', 'replay']), id: z.string() })
  .nullable()
  .openapi('Cause', {
    description:
      'What started the change: the X-Request-Id, the inbound message_id, or the dead letter replayed',
  });
const entryFields = {
  at: z.string().openapi({ description: 'When the change committed (ISO-8601, UTC)' }),
  sku: z.string(),
  qty: z.number().int().nullable(),
  batchref: z.string().nullable(),
  version: z.number().int().openapi({ description: 'The product version after the change' }),
  cause: Cause,
};
const OrderHistoryEntry = z
  .object({ ...entryFields, type: z.enum(['allocated', 'deallocated', 'out_of_stock']) })
  .openapi('OrderHistoryEntry');
const ProductHistoryEntry = z
  .object({
    ...entryFields,
    type: z.enum(['batch_created', 'quantity_changed', 'allocated', 'deallocated', 'out_of_stock']),
    orderid: z.string().nullable(),
    from: z
      .number()
      .int()
      .optional()
      .openapi({ description: 'quantity_changed: the old quantity' }),
    to: z.number().int().optional().openapi({ description: 'quantity_changed: the new quantity' }),
  })
  .openapi('ProductHistoryEntry');

const ErrorBody = z.object({ message: z.string() });

function json(schema: z.ZodType, description: string) {
  return { description, content: { 'application/json': { schema } } };
}

export function registerHistoryPaths(registry: OpenAPIRegistry): void {
  registry.registerPath({
    method: 'get',
    path: '/orders/{orderid}/history',
    summary: "An order's history, oldest first: each allocation, deallocation and stock-out",
    request: { params: z.object({ orderid: Text.meta({ example: 'order-123' }) }) },
    responses: {
      200: json(z.array(OrderHistoryEntry), 'The history of the order'),
      400: json(ErrorBody, 'Invalid order id'),
      404: json(ErrorBody, 'The order has no history'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/products/{sku}/history',
    summary: "A product's history, newest first, a page at a time",
    request: {
      params: z.object({ sku: Text.meta({ example: 'SMALL-TABLE' }) }),
      query: z.object({
        limit: HistoryLimit.optional().openapi({
          description: 'Entries per page (1-1000, default 100)',
        }),
        before: HistoryBefore.optional().openapi({
          description: 'Set by the Link header of the previous page',
        }),
      }),
    },
    responses: {
      200: {
        ...json(z.array(ProductHistoryEntry), 'A page of the history'),
        headers: {
          Link: {
            description: '<...>; rel="next" when there are older entries',
            schema: { type: 'string' },
          },
        },
      },
      400: json(ErrorBody, 'Invalid sku, limit or before'),
      404: json(ErrorBody, 'Unknown sku'),
    },
  });
}
