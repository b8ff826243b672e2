// The service's database, new for every run, as the yardstick's is: bench/yardstick/schema.sql
// drops and recreates its tables at every run, while ours kept every earlier run's rows (3.7 GB
// on this machine after one afternoon of runs), so the two compared unequal starts.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { Client } from 'pg';

export const SERVICE_DATABASE = 'allocation_bench';

/**
 * Drops and creates SERVICE_DATABASE on the server of `serverUrl`, brings it to the service's
 * latest migration (the service in `serviceRoot`, which may be another checkout), and returns
 * its URL.
 */
export async function freshServiceDatabase(
  serverUrl: string,
  serviceRoot: string,
): Promise<string> {
  const client = new Client({ connectionString: serverUrl });
  await client.connect();
  try {
    // WITH (FORCE) ends a session a killed earlier run may have left (PostgreSQL 13 and later)
    await client.query(`DROP DATABASE IF EXISTS ${SERVICE_DATABASE} WITH (FORCE)`);
    await client.query(`CREATE DATABASE ${SERVICE_DATABASE}`);
  } finally {
    await client.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${SERVICE_DATABASE}`;
  execFileSync(
    process.execPath,
    [path.join(serviceRoot, 'dist/src/allocation/entrypoints/migrate.js')],
    { env: { ...process.env, DATABASE_URL: url.toString() }, stdio: 'ignore', timeout: 120_000 },
  );
  return url.toString();
}
