// GET /audit (SPEC section 9): operator actions, newest first, behind the admin guard.
import type Router from '@koa/router';
import type { Middleware } from 'koa';
import type { AuditLog } from '../../service_layer/audit';
import { AuditLimit } from './incident_schemas';

export function addAuditRoutes(router: Router, audit: AuditLog, admin: Middleware): void {
  router.get('/audit', admin, async (ctx) => {
    const limit = AuditLimit.parse(ctx.query.limit ?? '100');
    ctx.body = await audit.recent(limit);
  });
}
