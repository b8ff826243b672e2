// The operator routes' query shapes and their part of the OpenAPI document.
import { extendZodWithOpenApi, type OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { Text } from '../../message_schemas';
import { registerIncidentPaths } from './incident_schemas';

extendZodWithOpenApi(z); // idempotent; this module may load before api_schemas.ts

export const DeadLetterLimit = z.coerce.number().int().min(1).max(1000);
export const DeadLetterSource = Text;

const ErrorBody = z.object({ message: z.string() });
const DeadLetterId = z.object({ id: z.string().openapi({ example: '42' }) });
const DeadLetter = z
  .object({
    id: z.string(),
    source: z.string(),
    payload: z.string(),
    reason: z.string(),
    attempts: z.number().int(),
    created_at: z.string(),
    replayed_at: z.string().nullable(),
  })
  .openapi('DeadLetter');

function json(schema: z.ZodType, description: string) {
  return { description, content: { 'application/json': { schema } } };
}

const unauthorized = json(ErrorBody, 'Missing or wrong ADMIN_TOKEN (when set)');
const unknown = json(ErrorBody, 'No such dead letter');

export function registerOperatorPaths(registry: OpenAPIRegistry): void {
  registerIncidentPaths(registry); // first: /dead_letters/groups before /dead_letters/{id}
  registry.registerPath({
    method: 'get',
    path: '/dead_letters',
    summary: 'Dead letters, inbound and outbound, newest first (payloads cut to 4 KiB)',
    request: {
      query: z.object({
        limit: DeadLetterLimit.optional(),
        source: DeadLetterSource.optional(),
        reason: z.string().optional().openapi({ description: 'A prefix of the reason' }),
        before: z.string().optional().openapi({ description: 'From the Link rel="next" header' }),
      }),
    },
    responses: {
      200: json(z.array(DeadLetter), 'Dead letters; a Link rel="next" header when more match'),
      401: unauthorized,
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/dead_letters/{id}',
    summary: 'One dead letter, with its whole payload',
    request: { params: DeadLetterId },
    responses: { 200: json(DeadLetter, 'The dead letter'), 401: unauthorized, 404: unknown },
  });
  registry.registerPath({
    method: 'post',
    path: '/dead_letters/{id}/replay',
    summary:
      'Sends it through its original path again (inbound: the bus; outbound: the relay); a second replay is a no-op',
    request: {
      params: DeadLetterId,
      query: z.object({ force: z.enum(['true', 'false']).optional() }),
    },
    responses: {
      202: json(
        z.object({
          id: z.string(),
          status: z.enum(['replayed', 'requeued', 'already replayed', 'superseded', 'failed']),
          reason: z.string().optional(),
          dead_letter_id: z.string().optional(),
        }),
        'Replayed; "superseded": a newer change was applied since, nothing changed (force=true applies it); "failed": it failed again, the new dead letter is dead_letter_id',
      ),
      401: unauthorized,
      404: unknown,
    },
  });
  registry.registerPath({
    method: 'delete',
    path: '/dead_letters/{id}',
    summary: 'Discards a dead letter',
    request: { params: DeadLetterId },
    responses: { 204: { description: 'Discarded' }, 401: unauthorized, 404: unknown },
  });
  registry.registerPath({
    method: 'get',
    path: '/metrics',
    summary: 'Prometheus metrics',
    responses: { 200: { description: 'Metrics in the Prometheus text format' }, 401: unauthorized },
  });
}
