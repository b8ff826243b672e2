// Issue 20: a backlog of line_allocated messages (100,000 over 1,000 skus, interleaved as
// allocations arrive) delivered by the service's relay, beside a minimal relay written here (a
// loop of SELECT ... FOR UPDATE SKIP LOCKED, one pipelined PUBLISH per row of what the row
// holds, UPDATE, in batches of the relay's 500) draining a backlog of the same size from the
// same table in the same run. The service must not deliver while the rows go in: the bench
// holds the relay lease meanwhile (the relay_leases row the service's relays take turns on),
// and releasing it starts the service's drain. Rates are read from the database's clock: from
// the first batch recorded delivered to the last; apart: the seconds from the start (the lease
// released, or the loop started) to the first batch and to the last, and the CPU of the relay
// (the service, or this process for the minimal loop) and of PostgreSQL.
import { Redis } from 'ioredis';
import type { Pool } from 'pg';
import type { BenchContext } from './measure';
import { CpuMeter } from './proc';
import { queryNumber, waitUntil } from './seed';

const BATCH = 500; // the relay's batch size (DEFAULT_RELAY_OPTIONS in service_layer/outbox.ts)
const LIMIT_MS = 600_000;

export async function runDrain(ctx: BenchContext, messages: number) {
  const skus = Math.min(1_000, messages);
  const side = async (name: string, drain: (like: string, lastId: number) => Promise<void>) => {
    const like = `${ctx.runId}-drain-${name}-%`;
    await holdLease(ctx.pool);
    // rows interleaved over the skus, as a busy service writes them
    const lastId = await queryNumber(
      ctx.pool,
      `WITH backlog AS (INSERT INTO outbox (key, type, handler, payload)
         SELECT $1 || (i % $3), 'Allocated', 'line_allocated', jsonb_build_object('orderid',
           $1 || 'o' || i, 'sku', $1 || (i % $3), 'qty', 1, 'batchref', $1 || (i % $3) || '-b0',
           'version', i / $3 + 1)
         FROM generate_series(1, $2::int) AS i RETURNING id)
       SELECT max(id) FROM backlog`,
      [like.slice(0, -1), messages, skus],
    );
    await ctx.pool.query('VACUUM ANALYZE outbox'); // neither side pays for the other's dead rows
    ctx.log(`drain: ${messages} line_allocated messages waiting; the ${name} relay delivers them`);
    const clock = 'SELECT extract(epoch FROM clock_timestamp())::float';
    const [startedAt, from] = [await queryNumber(ctx.pool, clock), ctx.cpu.snapshot()];
    await drain(like, lastId);
    const cpu = CpuMeter.usage(from, ctx.cpu.snapshot());
    const result = { ...(await delivered(ctx.pool, like, startedAt)), cpu };
    ctx.log(`drain, ${name} relay: ${result.perSecond.toFixed(0)} messages/s`);
    await ctx.pool.query('DELETE FROM outbox WHERE key LIKE $1', [like]);
    await ctx.pool.query('VACUUM ANALYZE outbox');
    return result;
  };
  const service = await side('service', async (like, lastId) => {
    await releaseLease(ctx.pool);
    const sql = 'SELECT count(*) FROM outbox WHERE delivered_at IS NULL AND';
    const none = (where: string, value: unknown) => async () =>
      (await queryNumber(ctx.pool, `${sql} ${where}`, [value])) === 0;
    // the newest row (an index lookup, asked often: polling must not weigh on what it measures),
    // then every row (a scan)
    const newest = await waitUntil(none('id = $1', lastId), 100, LIMIT_MS);
    if (!newest || !(await waitUntil(none('key LIKE $1', like), 1_000, LIMIT_MS))) {
      throw new Error('the relay left messages');
    }
  });
  const redis = new Redis(ctx.redisUrl);
  try {
    const minimal = await side('minimal', (like) => minimalRelay(ctx.pool, redis, like));
    await releaseLease(ctx.pool);
    return { messages, skus, service, minimal };
  } finally {
    redis.disconnect();
  }
}

/** The yardstick: the least a relay does, one batch per transaction. */
async function minimalRelay(pool: Pool, redis: Redis, like: string): Promise<void> {
  const client = await pool.connect();
  try {
    for (let picked = BATCH; picked > 0;) {
      await client.query('BEGIN');
      const { rows } = await client.query({
        name: 'drain_pick',
        text: `SELECT id, payload::text AS payload FROM outbox WHERE delivered_at IS NULL
               AND key LIKE $1 ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED`,
        values: [like, BATCH],
      });
      picked = rows.length;
      const pipeline = redis.pipeline();
      for (const row of rows) pipeline.publish('line_allocated', row.payload);
      await pipeline.exec();
      const ids = rows.map((row) => row.id);
      // statement_timestamp(): after the publishing, as the relay's own record of a batch
      const done = 'UPDATE outbox SET delivered_at = statement_timestamp() WHERE id = ANY($1)';
      await client.query({ name: 'drain_done', text: done, values: [ids] });
      await client.query('COMMIT');
    }
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

async function delivered(pool: Pool, like: string, startedAt: number) {
  const { rows } = await pool.query(
    `SELECT count(*) FILTER (WHERE delivered_at IS NULL)::int AS left,
            count(*) FILTER (WHERE delivered_at = first)::int AS first_batch, count(*)::int AS n,
            extract(epoch FROM first)::float AS first, extract(epoch FROM last)::float AS last
     FROM outbox, (SELECT min(delivered_at) AS first, max(delivered_at) AS last FROM outbox
                   WHERE key LIKE $1) AS span
     WHERE key LIKE $1 GROUP BY first, last`,
    [like],
  );
  const [{ left, first_batch, n, first, last }] = rows;
  if (left > 0) throw new Error(`drain: ${left} messages left undelivered`);
  const perSecond = (n - first_batch) / (last - first);
  return { perSecond, seconds: last - startedAt, pickupSeconds: first - startedAt };
}

const TAKE = `UPDATE relay_leases SET holder = 'bench-drain',
  expires_at = now() + interval '10 minutes'
  WHERE name = 'outbox_relay' AND (expires_at < now() OR holder = 'bench-drain')`;

/** Takes the relay lease (the service's leader gives it up once it finds nothing to do). */
async function holdLease(pool: Pool): Promise<void> {
  const take = async () => (await pool.query(TAKE)).rowCount === 1;
  if (!(await waitUntil(take, 100, LIMIT_MS))) throw new Error('the service kept the relay lease');
}

async function releaseLease(pool: Pool): Promise<void> {
  await pool.query(
    `UPDATE relay_leases SET holder = NULL, expires_at = '-infinity'
     WHERE name = 'outbox_relay' AND holder = 'bench-drain'`,
  );
}
