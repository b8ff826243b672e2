// The history routes (SPEC section 3, "History"), beside the other read routes: guarded by
// API_TOKEN, reading from the read database (a replica when DATABASE_READ_URL is set).
import type Router from '@koa/router';
import type { Middleware } from 'koa';
import type pg from 'pg';
import { orderHistory, productHistory } from '../../history_views';
import { OrderId, Sku } from './api_schemas';
import { DEFAULT_HISTORY_LIMIT, HistoryBefore, HistoryLimit } from './history_schemas';

export function addHistoryRoutes(router: Router, db: pg.Pool, api: Middleware): void {
  router.get('/orders/:orderid/history', api, async (ctx) => {
    const orderid = OrderId.parse(ctx.params.orderid);
    const entries = await orderHistory(orderid, db);
    if (entries.length === 0) {
      ctx.status = 404;
      ctx.body = { message: `No history for order ${orderid}` };
      return;
    }
    ctx.body = entries;
  });

  router.get('/products/:sku/history', api, async (ctx) => {
    const sku = Sku.parse(ctx.params.sku);
    const limit = HistoryLimit.parse(ctx.query.limit ?? String(DEFAULT_HISTORY_LIMIT));
    const before = HistoryBefore.optional().parse(ctx.query.before);
    const page = await productHistory(sku, { limit, before }, db);
    if (!page) {
      ctx.status = 404;
      ctx.body = { message: `Unknown sku ${sku}` };
      return;
    }
    if (page.next !== undefined) {
      const next = `/products/${encodeURIComponent(sku)}/history?limit=${limit}&before=${page.next}`;
      ctx.set('Link', `<${next}>; rel="next"`);
    }
    ctx.body = page.entries;
  });
}
