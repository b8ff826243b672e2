// What one GET /metrics scrape costs the database, empty and with 100,000 outbox rows and 50,000
// open dead letters (SPEC section 9, "Telemetry"): the database-backed gauges are read exactly as
// the service reads them. Run: DEVENV_PROFILE=bench node dist/tools/with_services.js node
// dist/bench/scrape_cost.js  (a database of its own, dropped at the end).
import { Redis } from 'ioredis';
import type { Knex } from 'knex';
import { Client } from 'pg';
import { createKnex, migrate } from '../src/allocation/adapters/postgres/db';
import { DeadLetters } from '../src/allocation/adapters/postgres/dead_letter_store';
import { KnexOutbox } from '../src/allocation/adapters/postgres/knex_outbox';
import { PrometheusMetrics } from '../src/allocation/adapters/prometheus/metrics';
import { readinessChecks } from '../src/allocation/entrypoints/http/readiness';

const DATABASE = 'allocation_scrape_cost';
const SCRAPES = 200;

async function recreate(serverUrl: string, create: boolean): Promise<string> {
  const client = new Client({ connectionString: serverUrl });
  await client.connect();
  await client.query(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
  if (create) await client.query(`CREATE DATABASE ${DATABASE}`);
  await client.end();
  const url = new URL(serverUrl);
  url.pathname = `/${DATABASE}`;
  return url.toString();
}

async function scrapeMs(metrics: PrometheusMetrics): Promise<{ median: number; p95: number }> {
  for (let i = 0; i < 20; i++) await metrics.registry.metrics(); // warm up
  const times: number[] = [];
  for (let i = 0; i < SCRAPES; i++) {
    const started = process.hrtime.bigint();
    await metrics.registry.metrics();
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(SCRAPES / 2)], p95: times[Math.floor(SCRAPES * 0.95)] };
}

const QUERIES = {
  'backlog count, up to 10,000':
    'SELECT count(*) FROM (SELECT 1 FROM outbox WHERE delivered_at IS NULL LIMIT 10000) p',
  'backlog oldest, first of the pending index':
    'SELECT created_at FROM outbox WHERE delivered_at IS NULL ORDER BY id LIMIT 1',
  'backlog exact (before)':
    'SELECT count(*), min(created_at) FROM outbox WHERE delivered_at IS NULL',
  'dead letters open, counts table': 'SELECT source, open FROM dead_letter_counts',
  'dead letters open, counted (not used)':
    'SELECT source, count(*) FROM dead_letters WHERE replayed_at IS NULL AND deleted_at IS NULL GROUP BY source',
};

/** Median execution time of `sql` over 21 runs, as EXPLAIN ANALYZE reports it. */
async function executionMs(db: Knex, sql: string): Promise<string> {
  const times: number[] = [];
  for (let i = 0; i < 21; i++) {
    const plan = await db.raw<{ rows: Record<string, string>[] }>(`EXPLAIN ANALYZE ${sql}`);
    const last = plan.rows.at(-1)?.['QUERY PLAN'] ?? '';
    times.push(Number(/Execution Time: ([\d.]+)/.exec(last)?.[1]));
  }
  return times.sort((a, b) => a - b)[10].toFixed(2);
}

async function main(): Promise<void> {
  const serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) throw new Error('DATABASE_URL is not set: run through tools/with_services');
  const db = createKnex(await recreate(serverUrl, true), 4);
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  try {
    await migrate(db);
    const outbox = new KnexOutbox(db);
    const letters = new DeadLetters(db);
    const metrics = new PrometheusMetrics(() => outbox.backlog());
    metrics.watchDeadLetters(() => letters.openBySource());
    metrics.watchReadiness(readinessChecks(db, redis));
    const report = (label: string, ms: { median: number; p95: number }) =>
      console.log(`${label}: median ${ms.median.toFixed(2)} ms, p95 ${ms.p95.toFixed(2)} ms`);

    report('empty tables', await scrapeMs(metrics));
    await db.raw(`
      INSERT INTO outbox (key, type, handler, payload)
      SELECT 'sku-' || (n % 1000), 'Allocated', 'line_allocated', '{}'::jsonb
      FROM generate_series(1, 100000) n`);
    await db.raw(`
      INSERT INTO dead_letters (source, payload, reason)
      SELECT (ARRAY['outbox:line_allocated', 'outbox:email', 'change_batch_quantity'])[n % 3 + 1],
        'payload', 'reason' FROM generate_series(1, 50000) n`);
    await db.raw('VACUUM ANALYZE outbox');
    await db.raw('VACUUM ANALYZE dead_letters');
    report('100,000 undelivered outbox rows, 50,000 open dead letters', await scrapeMs(metrics));
    // The database's side of each read, beside the unbounded forms they replace.
    for (const [label, sql] of Object.entries(QUERIES)) {
      console.log(`  ${label}: ${await executionMs(db, sql)} ms in PostgreSQL`);
    }
    await db.raw('UPDATE outbox SET delivered_at = now()');
    await db.raw('VACUUM ANALYZE outbox');
    report('100,000 delivered outbox rows, 50,000 open dead letters', await scrapeMs(metrics));
  } finally {
    redis.disconnect();
    await db.destroy();
    await recreate(serverUrl, false);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
