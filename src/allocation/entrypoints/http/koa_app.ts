import path from 'node:path';
import { readFile } from 'node:fs/promises';
import Router from '@koa/router';
import Koa from 'koa';
import type { Knex } from 'knex';
import type { PrometheusMetrics } from '../../adapters/prometheus/metrics';
import { Allocate, CreateBatch } from '../../domain/commands';
import type { DeadLetterReplayDeps } from '../../service_layer/dead_letters';
import type { MessageBus } from '../../service_layer/messagebus';
import type { Logger } from '../../service_layer/ports';
import { batchedAllocations, productStock } from '../../views';
import { AddBatchBody, AllocateBody, OrderId, Sku, openApiDocument } from './api_schemas';
import { authGuards, type AuthGuards, type AuthTokens } from './auth';
import { addDeadLetterRoutes } from './dead_letter_routes';
import { addAuditRoutes } from './audit_routes';
import { KnexAuditLog } from '../../adapters/postgres/audit_log';
import type { AuditLog } from '../../service_layer/audit';
import { sendWithETag } from './etag';
import { asyncApiDocument } from './asyncapi';
import { consoleRoutes } from '../console/routes';
import { errorMiddleware } from './http_errors';
import { methodNotAllowed } from './method_not_allowed';
import { HEALTHY, parseJsonBody, requestChain, requestContext } from './middleware';

export interface AppDeps {
  bus: MessageBus;
  db: Knex;
  /** What the read routes query: a streaming replica (DATABASE_READ_URL), else `db`. */
  readDb?: Knex;
  log: Logger;
  /** Each dependency's reachability: undefined when fine, else the reason. */
  readiness: () => Promise<Record<string, string | undefined>>;
  metrics: PrometheusMetrics;
  deadLetters: DeadLetterReplayDeps;
  /** API_TOKEN and ADMIN_TOKEN; a token left out is not checked. */
  auth?: AuthTokens;
  /** Where operator actions are recorded; the audit_log table of `db` unless given. */
  audit?: AuditLog;
}

/** Builds the Koa app without listening, so tests can drive it with supertest. */
export function createApp(given: AppDeps): Koa {
  const deps = { ...given, audit: given.audit ?? new KnexAuditLog(given.db) };
  const app = new Koa();
  app.use(requestContext(deps.metrics, deps.log));
  app.use(errorMiddleware(deps.log));
  app.use(consoleRoutes(deps)); // before the JSON body parser: the console reads its own forms
  app.use(parseJsonBody());
  const router = new Router();
  const guard = authGuards(deps.auth ?? {});
  addCommandRoutes(router, deps, guard);
  addQueryRoutes(router, deps, guard);
  addOperationsRoutes(router, deps, guard);
  app.use(methodNotAllowed());
  app.use(router.routes());
  return app;
}

function addCommandRoutes(router: Router, { bus }: AppDeps, guard: AuthGuards): void {
  router.post('/add_batch', guard.api, async (ctx) => {
    const body = AddBatchBody.parse(ctx.request.body);
    await bus.handle(
      new CreateBatch(body.ref, body.sku, body.qty, body.eta ?? null),
      requestChain(ctx),
    );
    ctx.status = 201;
    ctx.body = { message: 'OK' };
  });

  router.post('/allocate', guard.api, async (ctx) => {
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
  const db = deps.readDb ?? deps.db;
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
}

function addOperationsRoutes(router: Router, deps: AppDeps, guard: AuthGuards): void {
  router.get('/healthz', (ctx) => {
    ctx.body = HEALTHY;
  });

  router.get('/readyz', async (ctx) => {
    const checks = await deps.readiness();
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

  const document = openApiDocument();
  router.get('/openapi.json', (ctx) => {
    ctx.body = document;
  });
  const messages = asyncApiDocument();
  router.get('/asyncapi.json', (ctx) => {
    ctx.body = messages;
  });
  router.get('/docs', (ctx) => {
    ctx.type = 'html';
    ctx.body = DOCS_PAGE;
  });
  // Swagger UI's assets come from the npm package, so the docs page works offline.
  router.get('/docs/assets/:file', async (ctx) => {
    const file = ctx.params.file;
    if (!DOCS_ASSETS.has(file)) return;
    ctx.type = path.extname(file);
    ctx.set('Cache-Control', 'public, max-age=86400');
    ctx.body = await readFile(path.join(SWAGGER_UI, file));
  });
}

const DOCS_ASSETS = new Set(['swagger-ui.css', 'swagger-ui-bundle.js']);
// The package's index loads its whole 1.5 MB bundle; only the folder is needed.
const SWAGGER_UI = path.dirname(require.resolve('swagger-ui-dist/package.json'));

const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>allocation API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><p style="font-family: sans-serif; margin: 1em 20px">Redis messages (channels
<code>change_batch_quantity</code> and <code>line_allocated</code>):
<a href="/asyncapi.json">AsyncAPI document</a></p>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui' });</script>
</body></html>`;
