// The connection the commit-cost probes (history_cost.ts, group_commit_cost.ts) time: a fresh
// database of the service's schema, one client, and its backend's own CPU from /proc.
import path from 'node:path';
import { Client } from 'pg';
import { processCpuMs } from './proc';
import { freshDatabase } from './processes';

export async function probeConnection(database: string) {
  const serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) throw new Error('DATABASE_URL is not set (run through tools/with_services)');
  const serviceRoot = path.resolve(__dirname, '../..');
  const client = new Client({
    connectionString: await freshDatabase({ serverUrl, serviceRoot }, database),
  });
  await client.connect();
  // the flush of each commit's WAL is most of a lone call's time and all of its noise; group
  // commit shares it between allocations in the service, so it is left out here
  await client.query('SET synchronous_commit = off');
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  return { client, backendCpuMs: () => processCpuMs(rows[0].pid) };
}
