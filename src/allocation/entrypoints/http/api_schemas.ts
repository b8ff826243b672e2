// Request and response shapes: the same zod schemas validate bodies and generate the OpenAPI
// document, so the docs cannot drift from what the API accepts.
import {
  extendZodWithOpenApi,
  OpenApiGeneratorV31,
  OpenAPIRegistry,
} from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { MAX_INT, Text } from '../../message_schemas';
import { registerHistoryPaths } from './history_schemas';
import { registerOperatorPaths } from './operator_schemas';

extendZodWithOpenApi(z);

// `.meta`, not `.openapi`: Text is made in message_schemas, before zod is extended here.
const Name = (example: string) => Text.meta({ example });

const Quantity = z.number().int().positive().max(MAX_INT).openapi({ example: 10 });

/** A real date of years 1..9999 (PostgreSQL has no year 0). */
function isCalendarDate(value: string): boolean {
  const date = new Date(`${value}T00:00:00Z`);
  return (
    !Number.isNaN(date.getTime()) &&
    date.toISOString().slice(0, 10) === value &&
    date.getUTCFullYear() >= 1
  );
}

const CalendarDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date YYYY-MM-DD')
  .refine(isCalendarDate, 'must be a real calendar date')
  .openapi({ example: '2026-12-24' });

export const AddBatchBody = z
  .object({
    ref: Name('batch-001'),
    sku: Name('SMALL-TABLE'),
    qty: Quantity,
    eta: CalendarDate.nullable().optional(),
  })
  .openapi('AddBatch');

export const AllocateBody = z
  .object({ orderid: Name('order-123'), sku: Name('SMALL-TABLE'), qty: Quantity })
  .openapi('Allocate');

export const OrderId = Name('order-123');
export const Sku = Name('SMALL-TABLE');

const ProductStockBody = z
  .object({
    sku: z.string(),
    version: z.number().int(),
    batches: z.array(
      z.object({
        ref: z.string(),
        eta: z.string().nullable(),
        purchased: z.number().int(),
        allocated: z.number().int(),
        available: z.number().int(),
      }),
    ),
  })
  .openapi('ProductStock');

const ErrorBody = z.object({ message: z.string() }).openapi('Error');
const Allocation = z
  .object({ sku: z.string(), batchref: z.string() })
  .openapi('Allocation', { example: { sku: 'SMALL-TABLE', batchref: 'batch-001' } });

/** "qty: Too small..." for the first few problems, in words an API user can act on. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : 'body'}: ${issue.message}`)
    .join('; ');
}

function json(schema: z.ZodType, description: string) {
  return { description, content: { 'application/json': { schema } } };
}

export function openApiDocument(): object {
  const registry = new OpenAPIRegistry();
  const badRequest = json(ErrorBody, 'Invalid body (or, for /allocate, "Invalid sku SKU")');
  registry.registerPath({
    method: 'post',
    path: '/add_batch',
    summary: 'Add a batch of stock (creates the product if the sku is new)',
    request: { body: { content: { 'application/json': { schema: AddBatchBody } } } },
    responses: {
      201: json(z.object({ message: z.string() }), 'Batch added'),
      400: badRequest,
      409: json(ErrorBody, 'A batch with this ref already exists'),
    },
  });
  registry.registerPath({
    method: 'post',
    path: '/allocate',
    summary: 'Allocate an order line to a batch (warehouse first, then earliest shipment)',
    request: { body: { content: { 'application/json': { schema: AllocateBody } } } },
    responses: {
      202: json(
        z.object({ batchref: z.string().nullable() }),
        'Allocated; batchref is null when out of stock',
      ),
      400: badRequest,
      409: json(ErrorBody, 'Too much contention on the sku; safe to retry'),
      503: json(ErrorBody, 'Database unavailable; safe to retry'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/allocations/{orderid}',
    summary: "An order's allocations, from the read model (eventually consistent)",
    request: { params: z.object({ orderid: OrderId }) },
    responses: {
      200: json(z.array(Allocation), 'The allocations of the order (with an ETag)'),
      304: { description: 'Unchanged since the ETag in If-None-Match' },
      404: json(ErrorBody, 'The order has no allocations'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/products/{sku}',
    summary: "A product's batches in allocation preference order, with their stock",
    request: { params: z.object({ sku: Sku }) },
    responses: {
      200: json(ProductStockBody, 'The product (with an ETag)'),
      304: { description: 'Unchanged since the ETag in If-None-Match' },
      404: json(ErrorBody, 'Unknown sku'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/healthz',
    summary: 'Liveness: the process is up',
    responses: { 200: json(z.object({ status: z.string() }), 'Up') },
  });
  registry.registerPath({
    method: 'get',
    path: '/readyz',
    summary: 'Readiness: PostgreSQL and Redis are reachable',
    responses: {
      200: json(z.object({ status: z.string() }), 'Ready'),
      503: json(ErrorBody, 'A dependency is unreachable'),
    },
  });
  registerHistoryPaths(registry);
  registerOperatorPaths(registry);
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'allocation',
      version: '1.0.0',
      description: 'Allocates order lines to warehouse stock and shipments.',
    },
  });
}
