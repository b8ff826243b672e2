// Issue 20: the time to bulk-replay (and bulk-discard) N dead letters (50,000 by default), and
// the allocation latency meanwhile. The whole service runs in this process (its own bootstrap),
// on the database of DATABASE_URL; N inbound change_batch_quantity dead letters over 1,000
// batches are written straight into the table (as the consumer would leave them after an
// incident), then POST /dead_letters/replay takes them all while a loop of POST /allocate on
// other skus records its latencies (and, first, 15 s of that loop alone: the yardstick). Then
// the same N again, discarded.
//
//   DEVENV_PROFILE=bench node dist/tools/with_services.js node dist/bench/dead_letter_bulk.js [N]
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { request, type Server } from 'node:http';
import { bootstrap } from '../src/allocation/bootstrap';
import { createKnex, migrate } from '../src/allocation/adapters/postgres/db';
import type { Logger } from '../src/allocation/service_layer/ports';

const BATCHES = 1_000;
const BASELINE_MS = 15_000;
const ALLOCATION_SKUS = 20;
const quiet: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 50_000);
  const db = createKnex(String(process.env.DATABASE_URL), 10);
  await migrate(db);
  const service = bootstrap({ db, logger: quiet });
  const server: Server = service.app().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as { port: number };
  const base = `http://127.0.0.1:${port}`;
  const post = (path: string, body: object) =>
    fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
  // node:http, not fetch: fetch gives up on a response that takes over 300 s to start
  const bulk = (path: string, body: object) => postSlow(port, path, body);

  const run = randomBytes(3).toString('hex');
  const source = `bench-${run}`;
  for (let i = 0; i < BATCHES; i++) {
    await post('/add_batch', { ref: `dlb-${run}-${i}`, sku: `dlb-${run}-sku${i % 100}`, qty: 10 });
  }
  for (let i = 0; i < ALLOCATION_SKUS; i++) {
    await post('/add_batch', { ref: `dla-${run}-${i}`, sku: `dla-${run}-${i}`, qty: 1_000_000 });
  }
  const seed = async () => {
    await db.raw(
      `INSERT INTO dead_letters (source, payload, reason, position)
       SELECT ?, json_build_object('batchref', 'dlb-' || ? || '-' || (g % ?), 'qty', 20 + g % 7)::text,
              'UnknownBatch: Unknown batch dlb-' || ? || '-' || (g % ?),
              lpad(g::text, 20, '0') || '-' || lpad('0', 20, '0')
       FROM generate_series(1, ?) AS g`,
      [source, run, BATCHES, run, BATCHES, count],
    );
  };

  // the yardstick: the same allocation loop with nothing else going on, in the same run
  const baseline = await timedWithAllocations(base, `${run}-base`, () => sleep(BASELINE_MS));
  await seed();
  const replay = await timedWithAllocations(base, run, () =>
    bulk('/dead_letters/replay', { source }),
  );
  await seed();
  const discard = await timedWithAllocations(base, run, () =>
    bulk('/dead_letters/discard', { source }),
  );
  console.log(JSON.stringify({ count, baseline, replay, discard }, null, 2));
  server.close();
  await service.close();
  await db.destroy();
}

/** Runs `act` while one client allocates in a loop; its duration and the allocations' latency. */
async function timedWithAllocations(base: string, run: string, act: () => Promise<unknown>) {
  const latencies: number[] = [];
  let done = false;
  const allocating = (async () => {
    for (let i = 0; !done; i++) {
      const started = performance.now();
      const response = await fetch(`${base}/allocate`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({
          orderid: `o-${run}-${i}`,
          sku: `dla-${run}-${i % ALLOCATION_SKUS}`,
          qty: 1,
        }),
      });
      await response.arrayBuffer();
      latencies.push(performance.now() - started);
    }
  })();
  const started = performance.now();
  const result = await act();
  const seconds = (performance.now() - started) / 1000;
  done = true;
  await allocating;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => Math.round(latencies[Math.floor(q * (latencies.length - 1))] * 10) / 10;
  return {
    result,
    seconds: Math.round(seconds * 10) / 10,
    perSecond: Math.round(
      Number((result as { matched?: number } | undefined)?.matched ?? 0) / seconds,
    ),
    allocations: latencies.length,
    allocationMs: { p50: at(0.5), p99: at(0.99), max: at(1) },
  };
}

function postSlow(port: number, path: string, body: object): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve(JSON.parse(text)));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
