// What each speed change of issue 11 bought, measured apart from make bench's full run: on this
// shared machine a few microseconds vanish in one run's noise, so each was measured as an A/B in
// one window (both builds running at once, the load alternating between them in short rounds,
// service CPU per request from /proc, the median of the rounds), or, for SQL, as PostgreSQL CPU
// per call on one connection. Allocations are not compared this way: of two services on one
// database, the relay leader delivers both one's messages, which moved the service CPU per
// allocation of one build against itself by 17%. BENCHMARKS.md prints this table as written.
import { table } from './tables';

interface Change {
  change: string;
  where: string;
  measure: string;
  before: string;
  after: string;
}

const CHANGES: Change[] = [
  {
    change: 'an allocation loads its product with `orderid = $1`, not `= ANY($1)`',
    where: 'adapters/postgres/repository.ts',
    measure: 'PostgreSQL CPU per product load (1,500 loads, one connection)',
    before: '320-350 us (planned again on every call)',
    after: '40-55 us (one plan per connection)',
  },
  {
    change: '(the same, seen from spread c16, 6 rounds, another 1.2 cores busy)',
    where: 'adapters/postgres/repository.ts',
    measure: 'PostgreSQL CPU per allocation; req/s',
    before: '1,225 us; 371/s',
    after: '936 us; 480/s',
  },
  {
    change: 'API requests skip the console router; GET/HEAD skip the body parser',
    where: 'console/routes.ts, middleware.ts',
    measure: 'service CPU per GET /allocations/:orderid (c16, 8 rounds)',
    before: '192 us',
    after: '172 us',
  },
  {
    change: 'correlation ids passed along (Chain), no AsyncLocalStorage',
    where: 'messagebus.ts, middleware.ts, inbound.ts',
    measure: 'service CPU per request (c16, 8 rounds): read / healthz',
    before: '208 / 32.3 us',
    after: '173 / 31.6 us',
  },
  {
    change: 'GET /healthz answered in front of Koa and admission (bare Node response)',
    where: 'middleware.ts (livenessFirst), bootstrap.ts',
    measure: "service CPU per GET /healthz (c16, 8 rounds); Koa's hello world beside it",
    before: '40.3 us',
    after: '21.7 us (hello world 28.4 us)',
  },
  {
    change: 'the ETag by one-shot crypto.hash instead of a Hash object',
    where: 'etag.ts',
    measure: 'CPU per ETag (node -e, 100,000 x)',
    before: '1.3 us',
    after: '0.4 us',
  },
  {
    change: 'reads asked in one turn of the event loop share one statement (DataLoader)',
    where: 'views.ts (batchedAllocations)',
    measure:
      'per GET /allocations/:orderid (c16, 2 x 8 rounds): service CPU; PostgreSQL CPU; req/s',
    before: '174-178 us; 49-51 us; 5,971-6,026/s',
    after: '100-107 us; 22-24 us; 10,489-10,561/s (Koa + pg SELECT 1: 11,092-11,759/s)',
  },
  {
    change: 'group commit: one-product commits of one turn share one statement and transaction',
    where: 'adapters/postgres/group_commit.ts',
    measure:
      'spread c16, make bench, two alternating runs: write transactions, service / PostgreSQL CPU per allocation; req/s',
    before: '1.03; 0.639-0.679 / 0.633-0.692 ms; 1,091-1,187/s',
    after: '0.33; 0.585-0.606 / 0.522-0.538 ms; 1,266-1,316/s',
  },
  {
    change: 'JSON bodies read by raw-body + inflation + bourne, without @koa/bodyparser',
    where: 'entrypoints/http/middleware.ts',
    measure:
      'service CPU per POST /allocate (spread c16, relay off, 8 alternating rounds; then one service at a time)',
    before: '479 us; 735 us',
    after: '448 us; 716 us',
  },
  {
    change: 'a 16 MB young generation (--max-semi-space-size=16) instead of 4 MB',
    where: 'package.json, Dockerfile, docker-compose.yml',
    measure:
      'per POST /allocate (spread c16, one service at a time, 8 alternating rounds): service CPU; req/s; peak RSS (make bench)',
    before: '690 us; 1,193/s; 95-98 MB',
    after: '650 us; 1,278/s; 120-121 MB (reads: 197 -> 192 us)',
  },
  {
    change: 'tried, not kept: one-row branches in apply_product_changes (no jsonb joins)',
    where: 'a migration (not written)',
    measure: 'PostgreSQL CPU per call (1,500 calls, one connection, 3 runs)',
    before: '473 / 487 / 560 us',
    after: '427 / 480 / 527 us',
  },
  {
    change: 'not a cause of the spread regression: the relay (due rows, delivered, lease)',
    where: 'adapters/knex_outbox*.ts, relay_lease.ts',
    measure: 'PostgreSQL time per allocation (pg_stat_statements, spread c16)',
    before: '-',
    after: '20-25 us (one drain per 19-26 allocations)',
  },
  {
    change: 'not changed: @koa/router dispatch (experiment: the read route served before it)',
    where: 'koa_app.ts (reads met their target by batching instead)',
    measure: 'service CPU per GET /allocations/:orderid (c16, 8 rounds)',
    before: '228 us',
    after: '199 us',
  },
  {
    change:
      'not changed: @koa/router and the pass-through layers (POST /allocate served before them)',
    where: 'koa_app.ts',
    measure: 'service CPU per POST /allocate (spread c16, relay off, 8 rounds; two more runs)',
    before: '450; 644; 707 us',
    after: '449; 639; 689 us',
  },
];

export function measuredChangesTable(): string {
  return table(
    ['change', 'where', 'measure', 'before', 'after'],
    CHANGES.map((c) => [c.change, c.where, c.measure, c.before, c.after]),
  );
}
