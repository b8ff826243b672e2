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

export type Readiness = () => Promise<Record<string, string | undefined>>;

/** How old an answer /readyz may give: a flood of probes costs one check per this long. */
export const READINESS_MAX_AGE_MS = 1_000;

/**
 * `check`, run at most once per `maxAgeMs` and never twice at once: callers within that time
 * get the last answer, callers during a check share it. So /readyz answers from memory, or
 * within one check's own bound (1 s per dependency), and however many probes arrive, the pool
 * sees at most one acquire for them at a time.
 */
export function cachedReadiness(
  check: Readiness,
  maxAgeMs = READINESS_MAX_AGE_MS,
  now: () => number = () => performance.now(),
): Readiness {
  let last: { at: number; checks: Record<string, string | undefined> } | undefined;
  let running: Promise<Record<string, string | undefined>> | undefined;
  return () => {
    if (last && now() - last.at < maxAgeMs) return Promise.resolve(last.checks);
    running ??= check()
      .then((checks) => {
        last = { at: now(), checks };
        return checks;
      })
      .finally(() => (running = undefined));
    return running;
  };
}
