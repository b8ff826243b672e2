// What writing history costs the database, measured apart from the HTTP load (whose numbers
// move by a third between rounds on a shared machine): apply_product_changes called as an
// allocation's commit calls it (one line, its read-model row, its line_allocated outbox row),
// each call its own transaction (not waiting for its WAL flush) on one connection, over 16
// skus in turn, in alternating rounds
// with its history row and without it (`history: []`). Prints ms per call of each round.
// [lines] allocates that many lines per call, as a batched hot unit does (hot c32: about 14).
//   DEVENV_PROFILE=bench node dist/tools/with_services.js node dist/bench/history_cost.js \
//     [calls] [rounds] [lines]
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { APPLY_PRODUCT_CHANGES } from '../migrations/functions/write_side';
import { allocationChanges, newProductChanges, probeProducts } from './commit_documents';
import { probeConnection } from './probe_connection';

const SKUS = 16;

async function main(): Promise<void> {
  const calls = Number(process.argv[2] ?? 1_000);
  const rounds = Number(process.argv[3] ?? 8);
  const lines = Number(process.argv[4] ?? 1);
  // CPU time rather than wall time: on a shared machine the wall clock mostly measures the others
  const { client, backendCpuMs } = await probeConnection('allocation_history_cost');
  // a variant to compare, e.g. DROP INDEX history_at_brin, or another apply_product_changes
  const beforePath = process.env.HISTORY_COST_BEFORE;
  const before = beforePath
    ? ((await import(path.resolve(beforePath))) as { APPLY_PRODUCT_CHANGES: string })
        .APPLY_PRODUCT_CHANGES
    : undefined;
  const setup = process.env.HISTORY_COST_SETUP;
  if (setup)
    await client.query(setup.startsWith('@') ? readFileSync(setup.slice(1), 'utf8') : setup);
  const apply = (sku: string, changes: object) =>
    client.query({
      name: 'apply',
      text: 'SELECT apply_product_changes($1, $2::jsonb)',
      values: [sku, JSON.stringify(changes)],
    });
  const products = probeProducts(SKUS);
  for (const p of products) await apply(p.sku, newProductChanges(p));
  const results: { history: boolean; msPerCall: number; cpuPerCall: number }[] = [];
  for (let round = 0; round < rounds; round++) {
    const history = round % 2 === 1;
    // with HISTORY_COST_BEFORE (another checkout's dist/migrations/functions/write_side.js), the
    // rounds without history run that checkout's apply_product_changes: the whole change's cost
    if (before) await client.query(history ? APPLY_PRODUCT_CHANGES : before);
    const started = process.hrtime.bigint();
    const cpuBefore = backendCpuMs();
    for (let i = 0; i < calls; i++) {
      const p = products[i % SKUS];
      await apply(p.sku, allocationChanges(p, lines, history));
    }
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const cpu = (backendCpuMs() - cpuBefore) / calls;
    results.push({ history, msPerCall: ms / calls, cpuPerCall: cpu });
    console.log(
      `round ${round + 1} ${history ? 'with' : 'without'} history: ${(ms / calls).toFixed(3)} ms ` +
        `per call, PostgreSQL CPU ${cpu.toFixed(3)} ms per call`,
    );
  }
  await client.end();
  const mean = (xs: number[]) => xs.reduce((sum, x) => sum + x, 0) / xs.length;
  for (const field of ['msPerCall', 'cpuPerCall'] as const) {
    const of = (history: boolean) =>
      results.filter((r) => r.history === history).map((r) => r[field]);
    const [without, withHistory] = [mean(of(false)), mean(of(true))];
    const range = (xs: number[]) => `${Math.min(...xs).toFixed(3)}-${Math.max(...xs).toFixed(3)}`;
    console.log(
      `${field}: without ${range(of(false))}, with ${range(of(true))}; means ` +
        `${without.toFixed(3)} ms and ${withHistory.toFixed(3)} ms ` +
        `(+${(withHistory - without).toFixed(3)} ms, x${(withHistory / without).toFixed(3)})`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
