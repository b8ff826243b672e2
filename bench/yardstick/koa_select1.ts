// Yardstick: Koa + pg answering each GET /allocations/:orderid with `SELECT 1`, the least a
// read that goes to PostgreSQL can cost. Compare our GET /allocations/:orderid.
import Router from '@koa/router';
import Koa from 'koa';
import { Pool } from 'pg';

const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const router = new Router();
router.get('/allocations/:orderid', async (ctx) => {
  const { rows } = await pool.query('SELECT 1 AS one');
  ctx.body = rows;
});

const app = new Koa();
app.use(router.routes());
app.listen(Number(process.env.PORT), '127.0.0.1');
