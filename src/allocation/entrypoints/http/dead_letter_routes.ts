// The operator routes for dead letters (SPEC section 9), behind the admin guard.
import type Router from '@koa/router';
import type { Middleware } from 'koa';
import { type DeadLetterReplayDeps, replayDeadLetter } from '../../service_layer/dead_letters';
import { DeadLetterLimit, DeadLetterSource } from './operator_schemas';

export function addDeadLetterRoutes(
  router: Router,
  deps: DeadLetterReplayDeps,
  admin: Middleware,
): void {
  const { store } = deps;
  const notFound = (id: string) => ({ message: `No dead letter ${id}` });

  router.get('/dead_letters', admin, async (ctx) => {
    const limit = DeadLetterLimit.parse(ctx.query.limit ?? '100');
    const source = DeadLetterSource.optional().parse(ctx.query.source);
    ctx.body = await store.list(limit, source);
  });

  router.get('/dead_letters/:id', admin, async (ctx) => {
    const letter = await store.get(ctx.params.id);
    if (!letter) {
      ctx.status = 404;
      ctx.body = notFound(ctx.params.id);
      return;
    }
    ctx.body = {
      id: letter.id,
      source: letter.source,
      payload: letter.payload,
      reason: letter.reason,
      attempts: letter.attempts,
      created_at: letter.created_at,
      replayed_at: letter.replayed_at,
    };
  });

  router.post('/dead_letters/:id/replay', admin, async (ctx) => {
    const result = await replayDeadLetter(ctx.params.id, deps);
    ctx.status = result ? 202 : 404;
    ctx.body = result ?? notFound(ctx.params.id);
  });

  router.delete('/dead_letters/:id', admin, async (ctx) => {
    if (await store.discard(ctx.params.id)) {
      ctx.status = 204;
      return;
    }
    ctx.status = 404;
    ctx.body = notFound(ctx.params.id);
  });
}
