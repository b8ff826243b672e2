import { existsSync } from 'node:fs';
import path from 'node:path';
import { type EmbeddedPostgresHandle, startEmbeddedPostgres } from './embedded_postgres';
import { type LocalRedisHandle, startLocalRedis } from './local_redis';

export interface Services {
  env: { DATABASE_URL: string; REDIS_URL: string };
  /** What this call started, e.g. ['postgres', 'redis']; empty when both came from the env. */
  started: string[];
  /** Set only when started here, so fault-injection tests can stop() and start() them. */
  postgres?: EmbeddedPostgresHandle;
  redis?: LocalRedisHandle;
  /** Stops whatever this call started; services given through the env are left alone. */
  stop(): Promise<void>;
}

type Log = (msg: string) => void;

export async function ensureServices(log: Log): Promise<Services> {
  const repoRoot = findRepoRoot(__dirname);
  const dataRoot = process.env.DEVENV_DATA_DIR
    ? path.resolve(process.env.DEVENV_DATA_DIR)
    : path.join(repoRoot, '.data');
  // Tests wipe and reseed their database, and benchmarks fill theirs: each profile gets data
  // folders of its own, apart from `make run`'s.
  const given = process.env.DEVENV_PROFILE;
  const suffix = given === 'test' || given === 'bench' ? `-${given}` : '';
  const folder = (server: string) => path.join(dataRoot, `${server}${suffix}`);
  // In parallel: a first run may spend a minute installing redis-server while initdb runs.
  const [database, redis] = await Promise.allSettled([
    provideDatabase(folder('postgres'), log),
    provideRedis(folder('redis'), log),
  ]);
  if (database.status === 'rejected' || redis.status === 'rejected') {
    await Promise.all([stopIfStarted(database), stopIfStarted(redis)]);
    throw database.status === 'rejected'
      ? database.reason
      : (redis as PromiseRejectedResult).reason;
  }
  const postgresHandle = database.value.handle;
  const redisHandle = redis.value.handle;
  return {
    env: { DATABASE_URL: database.value.url, REDIS_URL: redis.value.url },
    started: [...(postgresHandle ? ['postgres'] : []), ...(redisHandle ? ['redis'] : [])],
    postgres: postgresHandle,
    redis: redisHandle,
    async stop() {
      await Promise.all([postgresHandle?.stop(), redisHandle?.stop()]);
    },
  };
}

/** The folder holding package.json above this file, wherever it runs from (src/ or dist/src/). */
export function findRepoRoot(from: string): string {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (dir === path.dirname(dir)) throw new Error(`no package.json found above ${from}`);
  }
}

interface Provided<T> {
  url: string;
  handle?: T;
}

async function provideDatabase(
  dataDir: string,
  log: Log,
): Promise<Provided<EmbeddedPostgresHandle>> {
  if (process.env.DATABASE_URL) {
    log('using DATABASE_URL from the environment (not starting PostgreSQL)');
    return { url: process.env.DATABASE_URL };
  }
  const startedAt = Date.now();
  const handle = await startEmbeddedPostgres({ dataDir, log });
  log(
    `started embedded PostgreSQL ${handle.version} on 127.0.0.1:${handle.port} ` +
      `(data in ${shortPath(dataDir)}) in ${seconds(startedAt)}`,
  );
  return { url: handle.url, handle };
}

async function provideRedis(dir: string, log: Log): Promise<Provided<LocalRedisHandle>> {
  if (process.env.REDIS_URL) {
    log('using REDIS_URL from the environment (not starting Redis)');
    return { url: process.env.REDIS_URL };
  }
  const startedAt = Date.now();
  const handle = await startLocalRedis({ dir, log });
  log(`started redis-server on 127.0.0.1:${handle.port} (no persistence) in ${seconds(startedAt)}`);
  return { url: handle.url, handle };
}

async function stopIfStarted(
  result: PromiseSettledResult<Provided<{ stop(): Promise<void> }>>,
): Promise<void> {
  if (result.status === 'fulfilled') await result.value.handle?.stop();
}

/** Relative to where we run when inside it (the usual .data/...), else absolute. */
function shortPath(dir: string): string {
  const relative = path.relative(process.cwd(), dir);
  return relative.startsWith('..') || path.isAbsolute(relative) ? dir : relative;
}

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(2)} s`;
}
