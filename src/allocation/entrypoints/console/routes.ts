// The operator console (SPEC section 9): server-rendered pages at /console, reading through the
// same views and operations as the API. koa_app.ts mounts it with one line.
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type Koa from 'koa';
import compose from 'koa-compose';
import { KnexOutbox } from '../../adapters/postgres/knex_outbox';
import { orderHistory } from '../../history_views';
import { allocations, productStock } from '../../views';
import { OrderId, Sku } from '../http/api_schemas';
import type { AppDeps } from '../http/koa_app';
import { methodNotAllowed } from '../http/method_not_allowed';
import { ASSETS } from './assets';
import { addDeadLetterRoutes } from './dead_letter_actions';
import { addGroupRoutes } from './dead_letter_group_actions';
import { KnexAuditLog } from '../../adapters/postgres/audit_log';
import { addDeliveryPages } from './deliveries_page';
import { pathPart } from './html';
import { orderStory, productTimeline } from './history_section';
import { homePage } from './home_page';
import { notFoundPage } from './not_found_page';
import { orderPage } from './order_page';
import { outboxPage } from './outbox_page';
import { productPage } from './product_page';
import type { PageOptions } from './layout';
import { sendPage } from './responses';
import { sameOriginOnly } from './same_origin';
import { addSessionRoutes, requireSession } from './session';

const PREFIX = '/console';
const FAILURES_SHOWN = 20;
const DEAD_LETTERS_COUNTED = 100;

export function consoleRoutes(deps: AppDeps): Koa.Middleware {
  const token = deps.auth?.adminToken;
  const router = new Router({ prefix: PREFIX });
  // Console forms only: the origin is checked before a body is even read.
  const parseForm = bodyParser({ enableTypes: ['form'], formLimit: '8kb' });
  const checkForm = (ctx: Koa.Context, next: Koa.Next) =>
    sameOriginOnly(ctx, () => parseForm(ctx, next));
  const signedIn = requireSession(token);
  const shell = (title: string, extra: Partial<PageOptions> = {}): PageOptions => ({
    title,
    signedIn: token !== undefined,
    ...extra,
  });
  const outbox = new KnexOutbox(deps.db);

  router.get('/assets/:file', (ctx) => {
    const asset = ASSETS.get(ctx.params.file);
    if (!asset) return;
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.set('ETag', asset.etag);
    ctx.status = ctx.get('If-None-Match') === asset.etag ? 304 : 200;
    if (ctx.status === 200) [ctx.type, ctx.body] = [asset.type, asset.body];
  });
  addSessionRoutes(router, token, checkForm);

  router.get('/', signedIn, async (ctx) => {
    const [backlog, letters] = await Promise.all([
      outbox.backlog(),
      deps.deadLetters.store.list(DEAD_LETTERS_COUNTED),
    ]);
    const waiting = letters.filter((letter) => letter.replayed_at === null);
    const overview = { backlog, waitingDeadLetters: waiting.length, of: DEAD_LETTERS_COUNTED };
    sendPage(ctx, shell('Overview', { section: 'home' }), homePage(overview));
  });

  // A sku first (the more common question), then an order id.
  router.get('/search', signedIn, async (ctx) => {
    const q = typeof ctx.query.q === 'string' ? ctx.query.q.trim() : '';
    if (!OrderId.safeParse(q).success) return notFound(ctx, 'search', q, 400);
    if (await productStock(q, deps.pool)) return ctx.redirect(`/console/products/${pathPart(q)}`);
    const known = (await allocations(q, deps.pool)).length > 0;
    if (known || (await orderHistory(q, deps.pool)).length > 0) {
      return ctx.redirect(`/console/orders/${pathPart(q)}`);
    }
    notFound(ctx, 'search', q);
  });

  router.get('/products/:sku', signedIn, async (ctx) => {
    const sku = ctx.params.sku;
    const product = Sku.safeParse(sku).success ? await productStock(sku, deps.pool) : undefined;
    if (!product) return notFound(ctx, 'product', sku);
    const timeline = await productTimeline(sku, ctx.query.before, deps.pool);
    sendPage(ctx, shell(`Product ${sku}`, { query: sku }), productPage(product, timeline));
  });

  router.get('/orders/:orderid', signedIn, async (ctx) => {
    const orderid = ctx.params.orderid;
    if (!OrderId.safeParse(orderid).success) return notFound(ctx, 'order', orderid);
    const [lines, story] = await Promise.all([
      allocations(orderid, deps.pool),
      orderStory(orderid, ctx.query.skip, deps.pool),
    ]);
    if (lines.length === 0 && story.entries === 0) return notFound(ctx, 'order', orderid);
    sendPage(ctx, shell(`Order ${orderid}`, { query: orderid }), orderPage(lines, story.section));
  });

  router.get('/outbox', signedIn, async (ctx) => {
    const [backlog, failures] = await Promise.all([
      outbox.backlog(),
      outbox.recentFailures(FAILURES_SHOWN),
    ]);
    sendPage(ctx, shell('Outbox', { section: 'outbox' }), outboxPage({ backlog, failures }));
  });

  const deadLetterPages = {
    deadLetters: deps.deadLetters,
    signedIn,
    checkForm,
    shell: (title: string) => ({ ...shell(title), section: 'dead_letters' as const }),
    audit: deps.audit ?? new KnexAuditLog(deps.db),
    actor: token === undefined ? ('open' as const) : ('console' as const),
  };
  addGroupRoutes(router, deadLetterPages); // first: /dead_letters/groups is not a letter's id
  addDeadLetterRoutes(router, deadLetterPages);

  if (deps.deliveries) {
    addDeliveryPages(router, {
      deliveries: deps.deliveries,
      signedIn,
      checkForm,
      shell: (title) => ({ ...shell(title), section: 'deliveries' as const }),
      audit: { log: deadLetterPages.audit, actor: deadLetterPages.actor },
    });
  }

  function notFound(
    ctx: Koa.Context,
    kind: 'product' | 'order' | 'search',
    value: string,
    status = 404,
  ) {
    sendPage(ctx, shell('Not found', { query: value }), notFoundPage(kind, value), status);
  }

  // Every request passes here: only the console's own go through its router (which would
  // otherwise try each of its routes on every API request).
  const pages = compose([methodNotAllowed(), router.routes()]) as Koa.Middleware;
  return (ctx, next) => (ctx.path.startsWith(PREFIX) ? pages(ctx, next) : next());
}
