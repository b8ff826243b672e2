// What the set-based group commit saves the database (adapters/postgres/group_commit.ts): a
// group of K products, each allocating one line (its read-model row, outbox row and history
// row, random order ids), committed as K apply_product_changes calls in one statement (the form
// before it) or as one apply_products_changes call, in alternating rounds on one connection
// (not waiting for each commit's WAL flush). Prints PostgreSQL's own CPU per group, from /proc.
//   DEVENV_PROFILE=bench node dist/tools/with_services.js node dist/bench/group_commit_cost.js \
//     [groups] [rounds] [K]
import { allocationChanges, newProductChanges, probeProducts } from './commit_documents';
import { probeConnection } from './probe_connection';

const PRODUCTS = 48;

async function main(): Promise<void> {
  const [groups, rounds, size] = [2, 3, 4].map((i, n) =>
    Number(process.argv[i] ?? [400, 12, 3][n]),
  );
  const { client, backendCpuMs } = await probeConnection('allocation_group_commit_cost');
  const products = probeProducts(PRODUCTS);
  for (const p of products) {
    await client.query('SELECT apply_product_changes($1, $2::jsonb)', [
      p.sku,
      JSON.stringify(newProductChanges(p)),
    ]);
  }
  const perProduct = `SELECT ${Array.from(
    { length: size },
    (_, i) => `apply_product_changes($${2 * i + 1}, $${2 * i + 2}::jsonb)`,
  ).join(', ')}`;
  let next = 0;
  const results = { perProduct: [] as number[], setBased: [] as number[] };
  for (let round = 0; round < rounds; round++) {
    const setBased = round % 2 === 1;
    const before = backendCpuMs();
    for (let i = 0; i < groups; i++) {
      const group = Array.from({ length: size }, () => products[next++ % PRODUCTS]);
      const changes = group.map((p) => [p.sku, JSON.stringify(allocationChanges(p, 1, true))]);
      if (setBased) {
        const json = changes.map(([sku, c]) => `{"sku":${JSON.stringify(sku)},"changes":${c}}`);
        await client.query({
          name: 'set',
          text: 'SELECT apply_products_changes($1::jsonb)',
          values: [`[${json.join(',')}]`],
        });
      } else {
        await client.query({ name: 'per', text: perProduct, values: changes.flat() });
      }
    }
    const ms = (backendCpuMs() - before) / groups;
    (setBased ? results.setBased : results.perProduct).push(ms);
    const form = setBased ? 'one set-based call' : `${size} calls`;
    console.log(`round ${round + 1}, ${form}: ${ms.toFixed(3)} ms PostgreSQL CPU per group`);
  }
  await client.end();
  const mean = (xs: number[]) => xs.reduce((sum, x) => sum + x, 0) / xs.length;
  const range = (xs: number[]) => `${Math.min(...xs).toFixed(3)}-${Math.max(...xs).toFixed(3)}`;
  console.log(
    `groups of ${size}: per product ${range(results.perProduct)} (mean ` +
      `${mean(results.perProduct).toFixed(3)}), set-based ${range(results.setBased)} (mean ` +
      `${mean(results.setBased).toFixed(3)}) ms per group`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
