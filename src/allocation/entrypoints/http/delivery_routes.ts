// The operator routes for pause and resume (SPEC section 9), behind the admin guard.
import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import {
  type DeliveriesDeps,
  DELIVERY_HANDLERS,
  isDeliveryHandler,
  listDeliveries,
  setDeliveryPaused,
} from '../../service_layer/deliveries';
import { recordOperatorAction, type AuditLog } from '../../service_layer/audit';
import { actorOf } from './auth';

export function addDeliveryRoutes(
  router: Router,
  deps: DeliveriesDeps,
  admin: Middleware,
  /** Where each pause and resume is recorded (service_layer/audit.ts). */
  audit?: AuditLog,
): void {
  router.get('/deliveries', admin, async (ctx) => {
    ctx.body = await listDeliveries(deps);
  });

  for (const [action, paused] of [
    ['pause', true],
    ['resume', false],
  ] as const) {
    router.post(`/deliveries/:handler/${action}`, admin, async (ctx: Context) => {
      const handler = String(ctx.params.handler);
      if (!isDeliveryHandler(handler)) {
        ctx.status = 404;
        ctx.body = {
          message: `No delivery handler ${handler}: one of ${DELIVERY_HANDLERS.join(', ')}`,
        };
        return;
      }
      const act = () => setDeliveryPaused(handler, paused, deps);
      const entry = { actor: actorOf(ctx), action, target: handler };
      ctx.body = audit
        ? await recordOperatorAction(audit, entry, act, (done) => done.state)
        : await act();
    });
  }
}
