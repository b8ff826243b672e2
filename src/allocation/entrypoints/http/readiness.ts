import type { RedisClient } from '../../adapters/redis/redis_connections';
import type { Knex } from 'knex';
import type { Logger } from '../../service_layer/ports';

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms).unref(),
    ),
  ]);
}

/**
 * The answer names the dependency only: the error (which may hold a host name or an address)
 * goes to the log, not to whoever can reach /readyz.
 */
async function problem(
  name: string,
  check: () => Promise<unknown>,
  log?: Logger,
): Promise<string | undefined> {
  try {
    await withTimeout(check(), 1_000);
    return undefined;
  } catch (error) {
    log?.warn({ err: error, dependency: name }, 'readiness check failed');
    return 'unreachable';
  }
}

/** Readiness: can this process reach PostgreSQL and Redis right now? */
export function readinessChecks(db: Knex, redis: RedisClient, log?: Logger) {
  return async (): Promise<Record<string, string | undefined>> => {
    const [postgres, redisProblem] = await Promise.all([
      problem('postgres', () => db.raw('SELECT 1'), log),
      problem('redis', () => redis.ping(), log),
    ]);
    return { postgres, redis: redisProblem };
  };
}
