// The operator routes for dead letters (SPEC section 9), behind the admin guard: one at a time,
// and at incident scale (pages, groups, bulk replay and discard), each action audited.
import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type { AuditLog } from '../../service_layer/audit';
import { recordOperatorAction } from '../../service_layer/audit';
import { discardMatching, replayMatching } from '../../service_layer/dead_letter_bulk';
import {
  type DeadLetterFilter,
  type DeadLetterReplayDeps,
  replayDeadLetter,
} from '../../service_layer/dead_letters';
import { actorOf } from './auth';
import { Before, DeadLetterFilterBody, Force, ReasonText } from './incident_schemas';
import { DeadLetterLimit, DeadLetterSource } from './operator_schemas';

export function addDeadLetterRoutes(
  router: Router,
  deps: DeadLetterReplayDeps,
  admin: Middleware,
  audit: AuditLog,
): void {
  const { store } = deps;
  const notFound = (id: string) => ({ message: `No dead letter ${id}` });
  const audited = <T>(ctx: Context, action: string, target: string, act: () => Promise<T>) =>
    recordOperatorAction(audit, { actor: actorOf(ctx), action, target }, act, describe);

  router.get('/dead_letters', admin, async (ctx) => {
    const limit = DeadLetterLimit.parse(ctx.query.limit ?? '100');
    const source = DeadLetterSource.optional().parse(ctx.query.source);
    const reason = ReasonText.optional().parse(ctx.query.reason);
    const before = Before.optional().parse(ctx.query.before);
    const page = await store.page(limit, { source, reason }, before);
    if (page.more) {
      const next = new URLSearchParams({ limit: String(limit) });
      if (source !== undefined) next.set('source', source);
      if (reason !== undefined) next.set('reason', reason);
      next.set('before', page.letters[page.letters.length - 1].id);
      ctx.set('Link', `</dead_letters?${next.toString()}>; rel="next"`);
    }
    ctx.body = page.letters;
  });

  router.get('/dead_letters/groups', admin, async (ctx) => {
    ctx.body = await store.groups();
  });

  router.post('/dead_letters/replay', admin, async (ctx) => {
    const { force, ...filter } = DeadLetterFilterBody.parse(ctx.request.body);
    const matching = asFilter(filter);
    ctx.body = await audited(
      ctx,
      force ? 'bulk_replay_forced' : 'bulk_replay',
      target(matching),
      () => replayMatching(matching, force === true, deps),
    );
  });

  router.post('/dead_letters/discard', admin, async (ctx) => {
    const filter = asFilter(DeadLetterFilterBody.parse(ctx.request.body));
    ctx.body = await audited(ctx, 'bulk_discard', target(filter), () =>
      discardMatching(filter, deps),
    );
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
    const force = Force.parse(ctx.query.force) === 'true';
    const id = ctx.params.id;
    const result = await audited(ctx, force ? 'replay_forced' : 'replay', id, () =>
      replayDeadLetter(id, deps, force),
    );
    ctx.status = result ? 202 : 404;
    ctx.body = result ?? notFound(id);
  });

  router.delete('/dead_letters/:id', admin, async (ctx) => {
    const id = ctx.params.id;
    if (await audited(ctx, 'discard', id, () => store.discard(id))) {
      ctx.status = 204;
      return;
    }
    ctx.status = 404;
    ctx.body = notFound(id);
  });
}

/** The filter as the store takes it: ids as their digits. */
export function asFilter(body: {
  source?: string;
  reason?: string;
  group?: string;
  ids?: (string | number)[];
}): DeadLetterFilter {
  const { ids, ...rest } = body;
  return ids === undefined ? rest : { ...rest, ids: ids.map(String) };
}

/** A bulk action's target in the audit: its filter (ids counted past a few). */
export function target(filter: DeadLetterFilter): string {
  const { ids, ...rest } = filter;
  if (ids === undefined) return JSON.stringify(rest);
  const shown = ids.length > 20 ? [...ids.slice(0, 20), `... ${ids.length} ids`] : ids;
  return JSON.stringify({ ...rest, ids: shown });
}

/** What an action returned, as the audit's result: a status, or the summary. */
export function describe(result: unknown): string {
  if (result === undefined) return 'not found';
  if (result === true) return 'discarded';
  if (result === false) return 'not found';
  const status = (result as { status?: string }).status;
  return status ?? JSON.stringify(result);
}
