// The shapes of the incident-scale operator routes (SPEC section 9): dead-letter paging and
// groups, bulk replay and discard, the audit; and their part of the OpenAPI document.
import { extendZodWithOpenApi, type OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { Text } from '../../message_schemas';

extendZodWithOpenApi(z); // idempotent; this module may load before api_schemas.ts

const NO_NUL = (s: string) => !s.includes('\u0000');
const DeadLetterIdText = z.string().regex(/^\d{1,18}$/, 'must be a dead letter id (digits)');

/** A reason prefix (empty: any reason), or a group's normalised reason. */
export const ReasonText = z.string().max(2000).refine(NO_NUL, 'must not contain NUL characters');
/** Where the next page starts: the id after which the previous page stopped. */
export const Before = DeadLetterIdText;
export const Force = z.enum(['true', 'false']).optional();
export const AuditLimit = z.coerce.number().int().min(1).max(1000);

/**
 * The filter of a bulk action. At least one of source, reason, group and ids: an empty body is
 * more likely a mistake than a wish to replay or discard everything, which `"reason": ""` (a
 * prefix of every reason) says on purpose.
 */
export const DeadLetterFilterBody = z
  .object({
    source: Text.optional(),
    reason: ReasonText.optional().describe('A prefix of the reason (or of its normalised form)'),
    group: ReasonText.optional().describe('A normalised reason, as /dead_letters/groups shows it'),
    ids: z
      .array(
        z.union([DeadLetterIdText, z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)]),
      )
      .max(10_000)
      .optional(),
    force: z.boolean().optional().describe('Replay: apply changes even if superseded'),
  })
  .refine(
    (f) => [f.source, f.reason, f.group, f.ids].some((field) => field !== undefined),
    'give at least one of source, reason, group, ids ("reason": "" matches every dead letter)',
  );

const Group = z
  .object({
    source: z.string(),
    reason: z.string().openapi({ example: 'UnknownBatch: Unknown batch *' }),
    count: z.number().int(),
    first_at: z.string(),
    last_at: z.string(),
  })
  .openapi('DeadLetterGroup');
const AuditEntry = z
  .object({
    at: z.string(),
    actor: z.enum(['admin', 'console', 'open']),
    action: z.string().openapi({ example: 'bulk_replay' }),
    target: z.string(),
    result: z.string(),
  })
  .openapi('AuditEntry');
const ErrorBody = z.object({ message: z.string() });

function json(schema: z.ZodType, description: string) {
  return { description, content: { 'application/json': { schema } } };
}
const unauthorized = json(ErrorBody, 'Missing or wrong ADMIN_TOKEN (when set)');
const invalid = json(ErrorBody, 'Invalid filter');

export function registerIncidentPaths(registry: OpenAPIRegistry): void {
  registry.registerPath({
    method: 'get',
    path: '/dead_letters/groups',
    summary: 'Open dead letters grouped by source and reason (ids and numbers replaced by *)',
    responses: { 200: json(z.array(Group), 'Groups, largest first'), 401: unauthorized },
  });
  const body = { content: { 'application/json': { schema: DeadLetterFilterBody } } };
  registry.registerPath({
    method: 'post',
    path: '/dead_letters/replay',
    summary: 'Replays every open dead letter matching the filter, in batches',
    request: { body },
    responses: {
      200: json(
        z.object({
          matched: z.number().int(),
          replayed: z.number().int(),
          failed: z.number().int(),
          superseded: z.number().int(),
        }),
        'What the replay did; one already replayed or discarded is not matched again',
      ),
      400: invalid,
      401: unauthorized,
    },
  });
  registry.registerPath({
    method: 'post',
    path: '/dead_letters/discard',
    summary: 'Discards every open dead letter matching the filter',
    request: { body },
    responses: {
      200: json(z.object({ matched: z.number().int(), discarded: z.number().int() }), 'Done'),
      400: invalid,
      401: unauthorized,
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/audit',
    summary: 'Operator actions, newest first (kept for AUDIT_RETENTION)',
    request: { query: z.object({ limit: AuditLimit.optional() }) },
    responses: { 200: json(z.array(AuditEntry), 'Audit entries'), 401: unauthorized },
  });
}
