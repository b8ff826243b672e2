// The one place that maps errors to HTTP statuses (SPEC section 3). The domain and the service
// layer never know about status codes.
import type { Context, Next } from 'koa';
import { z } from 'zod';
import { translateDbError } from '../../adapters/postgres/pg_errors';
import {
  ConcurrencyError,
  DuplicateBatch,
  InvalidSku,
  Unavailable,
} from '../../service_layer/errors';
import type { Logger } from '../../service_layer/ports';
import { describeIssues } from './api_schemas';

/** What a 503 tells clients: a dependency or this process is busy; come back this soon. */
export const RETRY_AFTER_SECONDS = 1;

function statusAndMessage(error: unknown): [number, string] | undefined {
  if (error instanceof z.ZodError) return [400, describeIssues(error)];
  if (error instanceof InvalidSku) return [400, error.message];
  if (error instanceof DuplicateBatch) return [409, error.message];
  if (error instanceof ConcurrencyError) {
    return [409, 'Too many concurrent changes to this product; please retry'];
  }
  if (error instanceof Unavailable) return [503, 'Service unavailable; please retry shortly'];
  // SQLSTATE class 22 (data exception): a value the database cannot take is the client's fault
  const code = (error as { code?: unknown })?.code;
  if (typeof code === 'string' && code.length === 5 && code.startsWith('22')) {
    return [400, 'A value in the request cannot be stored or compared'];
  }
  // Koa and the body parser throw http-errors: expose means the message is meant for clients.
  const e = error as { status?: number; expose?: boolean; message?: string };
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) {
    return [e.status, e.expose && e.message ? e.message : 'Bad request'];
  }
  return undefined;
}

export function errorMiddleware(log: Logger) {
  return async (ctx: Context, next: Next): Promise<void> => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        ctx.status = 404;
        ctx.body = { message: `No route for ${ctx.method} ${ctx.path}` };
      }
    } catch (thrown) {
      // Views and operations routes query the database directly: classify what they throw too.
      const error = translateDbError(thrown);
      const known = statusAndMessage(error);
      if (known) {
        [ctx.status, ctx.body] = [known[0], { message: known[1] }];
        if (known[0] === 503) {
          ctx.set('Retry-After', String(RETRY_AFTER_SECONDS));
          log.warn({ err: error, correlation_id: ctx.state.requestId }, 'dependency unavailable');
        }
        return;
      }
      log.error({ err: error, correlation_id: ctx.state.requestId }, 'unexpected error');
      ctx.status = 500;
      ctx.body = { message: 'Internal server error' };
    }
  };
}
