// Yardstick: Koa's hello world, what any Koa request costs at least. Compare GET /healthz
// (same JSON body), which adds our middleware: request id, async context, metrics, errors.
import Koa from 'koa';

const app = new Koa();
app.use((ctx) => {
  ctx.body = { status: 'ok' };
});
app.listen(Number(process.env.PORT), '127.0.0.1');
