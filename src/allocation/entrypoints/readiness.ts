import type { Redis } from 'ioredis';
import type { Knex } from 'knex';

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms).unref(),
    ),
  ]);
}

async function problem(check: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await withTimeout(check(), 1_000);
    return undefined;
  } catch (error) {
    return `unreachable (${(error as Error).message})`;
  }
}

/** Readiness: can this process reach PostgreSQL and Redis right now? */
export function readinessChecks(db: Knex, redis: Redis) {
  return async (): Promise<Record<string, string | undefined>> => {
    const [database, redisProblem] = await Promise.all([
      problem(() => db.raw('SELECT 1')),
      problem(() => redis.ping()),
    ]);
    return { database, redis: redisProblem };
  };
}
