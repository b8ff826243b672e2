// The servers under test, each a process of its own on a free port: the service started the way
// `make run` starts it (main.js all), and the minimal yardstick servers; and the service's
// database, new for every run as the yardstick's is (schema.sql recreates its tables), so the
// two start equal (ours once kept every earlier run's rows: 3.7 GB after one afternoon).
import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { Client, Pool } from 'pg';
import { findFreePort, hasExited, sleep, stopProcess } from '../tools/server_process';
import type { BenchContext, Env } from './measure';
import { CpuMeter } from './proc';

export type ServerProcess = Awaited<ReturnType<typeof startProcess>>;
type ProcessOptions = { script: string; env: Record<string, string>; cwd?: string };

const READY_TIMEOUT_MS = 60_000;
// the node flags of `make run` (package.json's start script): a heap ceiling keeps RSS near
// 120 MB; the young generation's size is the Dockerfile's (its comment says why 16 MB)
const HEAP_FLAGS = ['--max-semi-space-size=16', '--max-old-space-size=128'];

/** Ready once `readyPath` answers 200 (any HTTP answer without it); `output`: what it printed. */
export async function startProcess(
  options: ProcessOptions & { args?: string[]; nodeArgs?: string[]; readyPath?: string },
) {
  const [host, port] = ['127.0.0.1', await findFreePort()];
  const node = [...HEAP_FLAGS, ...(options.nodeArgs ?? []), options.script];
  const child = spawn(process.execPath, [...node, ...(options.args ?? [])], {
    cwd: options.cwd,
    // PORT for the minimal servers, API_* for the service
    env: { ...process.env, ...options.env, PORT: `${port}`, API_HOST: host, API_PORT: `${port}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let partial = '';
  const collect = (chunk: Buffer): void => {
    const parts = (partial + chunk.toString()).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts.filter((line) => line.trim() !== '').slice(0, 10_000 - lines.length));
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const url = `http://${host}:${port}${options.readyPath ?? '/'}`;
  for (const deadline = Date.now() + READY_TIMEOUT_MS; ; await sleep(100)) {
    if (hasExited(child))
      throw new Error(`${options.script} exited:\n${lines.slice(-20).join('\n')}`);
    const status = await fetch(url)
      .then((response) => response.status)
      .catch(() => 0);
    if (options.readyPath ? status === 200 : status > 0) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(
        `${options.script} not ready in ${READY_TIMEOUT_MS} ms:\n${lines.join('\n')}`,
      );
    }
  }
  const stop = () => stopProcess(child, 'SIGTERM', 20_000);
  return { host, port, pid: child.pid as number, output: () => [...lines], stop };
}

/** The services running now: stopped on a signal. */
export const RUNNING = new Set<ServerProcess>();

/**
 * Runs `work` on a service started as `make run` starts it (main.js all, ready once GET /readyz
 * answers 200) on `databaseUrl`, with API_WORKERS=apiWorkers (the targets, RSS among them, are
 * per process: 1 unless a scenario compares), and stops it after.
 */
export async function withService<T>(
  env: Env,
  databaseUrl: string,
  work: (ctx: BenchContext) => Promise<T>,
  { apiWorkers = 1, nodeArgs = [] as string[] } = {},
): Promise<T> {
  const service = await startProcess({
    script: path.join(env.serviceRoot, 'dist/src/allocation/entrypoints/main.js'),
    args: ['all'],
    nodeArgs,
    cwd: env.serviceRoot,
    readyPath: '/readyz',
    env: {
      DATABASE_URL: databaseUrl,
      REDIS_URL: env.redisUrl,
      LOG_LEVEL: 'warn',
      API_WORKERS: `${apiWorkers}`,
    },
  });
  RUNNING.add(service);
  env.log(`service pid ${service.pid} (API_WORKERS=${apiWorkers}) on port ${service.port}`);
  const pool = new Pool({ connectionString: databaseUrl, max: 4 });
  try {
    const origin = { host: service.host, port: service.port };
    // a meter per service: the load generator's share must leave this service out
    const cpu = new CpuMeter(service.pid, env.postgresPid);
    return await work({ ...env, origin, pool, servicePid: service.pid, cpu });
  } finally {
    env.log(`stopping service pid ${service.pid}`);
    await service.stop();
    RUNNING.delete(service);
    env.serviceLog.push(...service.output());
    await pool.end();
  }
}

/** Drops, creates and migrates (by the service measured, maybe another checkout) `name`. */
export async function freshDatabase(
  env: Pick<Env, 'serverUrl' | 'serviceRoot'>,
  name: string,
): Promise<string> {
  const client = new Client({ connectionString: env.serverUrl });
  await client.connect();
  try {
    // WITH (FORCE) ends a session a killed earlier run may have left (PostgreSQL 13 and later)
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(env.serverUrl);
  url.pathname = `/${name}`;
  const migrate = path.join(env.serviceRoot, 'dist/src/allocation/entrypoints/migrate.js');
  const migrateEnv = { ...process.env, DATABASE_URL: url.toString() };
  execFileSync(process.execPath, [migrate], { env: migrateEnv, stdio: 'ignore', timeout: 120_000 });
  return url.toString();
}
