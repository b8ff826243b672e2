import type { RequestListener } from 'node:http';
import Router from '@koa/router';
import Koa from 'koa';
import type { Knex } from 'knex';
import type pg from 'pg';
import type { PrometheusMetrics } from '../../adapters/prometheus/metrics';
import { Allocate, CreateBatch } from '../../domain/commands';
import type { DeadLetterReplayDeps } from '../../service_layer/dead_letters';
import type { MessageBus } from '../../service_layer/messagebus';
import type { Logger } from '../../service_layer/ports';
import { batchedAllocations, productStock } from '../../views';
import { Admission, type AdmissionLimits } from './admission';
import { AddBatchBody, AllocateBody, OrderId, Sku } from './api_schemas';
import { authGuards, type AuthGuards, type AuthTokens } from './auth';
import { addDeadLetterRoutes } from './dead_letter_routes';
import { addAuditRoutes } from './audit_routes';
import { KnexAuditLog } from '../../adapters/postgres/audit_log';
import type { AuditLog } from '../../service_layer/audit';
import { addDocsRoutes } from './docs_page';
import { addHistoryRoutes } from './history_routes';
import { addDeliveryRoutes } from './delivery_routes';
import type { DeliveriesDeps } from '../../service_layer/deliveries';
import { sendWithETag } from './etag';
import { consoleRoutes } from '../console/routes';
import { errorMiddleware } from './http_errors';
import { methodNotAllowed } from './method_not_allowed';
import { HEALTHY, parseJsonBody, requestChain, requestContext } from './middleware';
import { cachedReadiness, type Readiness } from './readiness';

export interface AppDeps {
  bus: MessageBus;
  db: Knex;
  /** The views' connections (pg's pool, for prepared statements): the primary's. */
  pool: pg.Pool;
  /** What the read routes query: a streaming replica (DATABASE_READ_URL), else `pool`. */
  readPool?: pg.Pool;
  log: Logger;
  /** Each dependency's reachability: undefined when fine, else the reason (cached here). */
  readiness: Readiness;
  metrics: PrometheusMetrics;
  deadLetters: DeadLetterReplayDeps;
  /** Pause and resume per delivery handler (GET /deliveries); left out, the routes are too. */
  deliveries?: DeliveriesDeps;
  /** API_TOKEN and ADMIN_TOKEN; a token left out is not checked. */
  auth?: AuthTokens;
  /** MAX_INFLIGHT and its kin (admission.ts). */
  limits: AdmissionLimits;
  /** BODY_TIMEOUT_MS: a body that takes longer gets 408. */
  bodyTimeoutMs: number;
  /** Where operator actions are recorded; the audit_log table of `db` unless given. */
  audit?: AuditLog;
}

/**
 * The Koa app without listening, so tests can drive it with supertest: its routes take their
 * command slots; only `apiListener` refuses at arrival.
 */
export function createApp(deps: AppDeps): Koa {
  return build(deps).app;
}

/** What the HTTP server runs: the app behind admission at arrival (admission.ts). */
export function apiListener(deps: AppDeps): RequestListener {
  const { app, router, admission } = build(deps);
  return admission.atArrival(router, app.callback());
}

/**
 * The order says what a request meets: its id, the error mapping, the console, the JSON body
 * (bounded by BODY_TIMEOUT_MS), then the route: a command's guard, then its admission slot.
 */
function build(deps: AppDeps): { app: Koa; router: Router; admission: Admission } {
  const app = new Koa();
  const router = new Router();
  const admission = new Admission(deps.limits, deps.metrics);
  const guard = authGuards(deps.auth ?? {});
  addCommandRoutes(router, deps, [guard.api, admission.command]);
  addQueryRoutes(router, deps, guard);
  addOperationsRoutes(router, deps, guard);
  addDocsRoutes(router);
  app.use(requestContext(deps.metrics, deps.log));
  app.use(errorMiddleware(deps.log));
  app.use(consoleRoutes(deps)); // before the JSON body parser: the console reads its own forms
  app.use(parseJsonBody(deps.bodyTimeoutMs));
  app.use(methodNotAllowed());
  app.use(router.routes());
  return { app, router, admission };
}

/** `before`: the guard, then the command's admission slot. */
function addCommandRoutes(router: Router, { bus }: AppDeps, before: Koa.Middleware[]): void {
  router.post('/add_batch', ...before, async (ctx) => {
    const body = AddBatchBody.parse(ctx.request.body);
    await bus.handle(
      new CreateBatch(body.ref, body.sku, body.qty, body.eta ?? null),
      requestChain(ctx),
    );
    ctx.status = 201;
    ctx.body = { message: 'OK' };
  });

  router.post('/allocate', ...before, async (ctx) => {
    const body = AllocateBody.parse(ctx.request.body);
    const batchref = await bus.handle(
      new Allocate(body.orderid, body.sku, body.qty),
      requestChain(ctx),
    );
    ctx.status = 202;
    ctx.body = { batchref: batchref ?? null };
  });
}

function addQueryRoutes(router: Router, deps: AppDeps, guard: AuthGuards): void {
  const db = deps.readPool ?? deps.pool;
  const allocations = batchedAllocations(db);
  router.get('/allocations/:orderid', guard.api, async (ctx) => {
    const orderid = OrderId.parse(ctx.params.orderid);
    const result = await allocations(orderid);
    if (result.length === 0) {
      ctx.status = 404;
      ctx.body = { message: `No allocations for order ${orderid}` };
      return;
    }
    sendWithETag(ctx, result);
  });

  router.get('/products/:sku', guard.api, async (ctx) => {
    const sku = Sku.parse(ctx.params.sku);
    const stock = await productStock(sku, db);
    if (!stock) {
      ctx.status = 404;
      ctx.body = { message: `Unknown sku ${sku}` };
      return;
    }
    sendWithETag(ctx, stock);
  });

  addHistoryRoutes(router, db, guard.api);
}

function addOperationsRoutes(router: Router, deps: AppDeps, guard: AuthGuards): void {
  router.get('/healthz', (ctx) => {
    ctx.body = HEALTHY;
  });

  const readiness = cachedReadiness(deps.readiness);
  router.get('/readyz', async (ctx) => {
    const checks = await readiness();
    const failing = Object.entries(checks).filter(([, problem]) => problem !== undefined);
    if (failing.length === 0) {
      ctx.body = { status: 'ready' };
      return;
    }
    ctx.status = 503;
    ctx.body = {
      message: `Not ready: ${failing.map(([name, problem]) => `${name} ${problem}`).join('; ')}`,
    };
  });

  router.get('/metrics', guard.admin, async (ctx) => {
    ctx.type = deps.metrics.registry.contentType;
    ctx.body = await deps.metrics.registry.metrics();
  });

  const audit = deps.audit ?? new KnexAuditLog(deps.db);
  addDeadLetterRoutes(router, deps.deadLetters, guard.admin, audit);
  addAuditRoutes(router, audit, guard.admin);
  if (deps.deliveries) addDeliveryRoutes(router, deps.deliveries, guard.admin, audit);
}
