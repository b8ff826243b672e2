// Yardstick: the allocation as a minimal hand-written Koa + pg server would do it, on the
// pgbench yardstick's schema: BEGIN, the six statements of allocate.pgbench, COMMIT. No
// validation, no availability check, no outbox, no retries. Compare our POST /allocate.
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import Koa from 'koa';
import { Pool } from 'pg';

const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const router = new Router();
router.post('/allocate', async (ctx) => {
  const { orderid, sku, qty } = ctx.request.body as { orderid: string; sku: string; qty: number };
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT version_number FROM products WHERE sku = $1 FOR UPDATE', [sku]);
    const batch = await client.query(
      'SELECT id, reference FROM batches WHERE sku = $1 ORDER BY eta NULLS FIRST LIMIT 1',
      [sku],
    );
    const { id, reference } = batch.rows[0];
    const line = await client.query(
      'INSERT INTO order_lines (sku, qty, orderid) VALUES ($1, $2, $3) RETURNING id',
      [sku, qty, orderid],
    );
    const allocation = 'INSERT INTO allocations (orderline_id, batch_id) VALUES ($1, $2)';
    await client.query(allocation, [line.rows[0].id, id]);
    const version = 'UPDATE products SET version_number = version_number + 1 WHERE sku = $1';
    await client.query(version, [sku]);
    await client.query(
      'INSERT INTO allocations_view (orderid, sku, batchref) VALUES ($1, $2, $3)',
      [orderid, sku, reference],
    );
    await client.query('COMMIT');
    ctx.status = 202;
    ctx.body = { batchref: reference };
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  } finally {
    client.release();
  }
});

const app = new Koa();
app.use(bodyParser());
app.use(router.routes());
app.listen(Number(process.env.PORT), '127.0.0.1');
