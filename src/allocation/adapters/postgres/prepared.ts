// Named prepared statements on pg's pool or on one of its connections: PostgreSQL parses and
// plans each of our statements once per connection instead of on every call. For the
// statements each allocation runs, planning costs several times what executing does (the
// product load: 330 us of PostgreSQL CPU planned per call, 47 us with its plan reused; see
// repository.ts). knex cannot name a statement, so the hot path speaks pg directly.
import { createHash } from 'node:crypto';
import pg from 'pg';

const { DatabaseError } = pg;

// Statement texts named so far (all of ours are fixed texts; the cap is a safety net). Past
// the cap, texts run unnamed, so a stream of unusual shapes cannot grow without bound.
const MAX_PREPARED = 64;
const names = new Map<string, string>();

function nameOf(text: string): string | undefined {
  let name = names.get(text);
  if (name === undefined && names.size < MAX_PREPARED) {
    name = `s${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    names.set(text, name);
  }
  return name;
}

/** Runs SQL with `$1`-style placeholders, as a prepared statement; rows back. */
export type Query = <R>(text: string, values: unknown[], timeoutMs?: number) => Promise<R[]>;

/** Statements on the pool (each on whichever connection is free) or on one connection. */
export function preparedQuery(on: pg.Pool | pg.PoolClient): Query {
  if ('release' in on) return (text, values, timeoutMs) => run(on, text, values, timeoutMs);
  return async <R>(text: string, values: unknown[], timeoutMs?: number) => {
    // Not pool.query(): pg's pool closes the connection after ANY failed statement, so every
    // lost version race, duplicate or lock timeout cost a new connection (a fork, a login, every
    // statement prepared again). With API_WORKERS=2 on 100 skus that was 1,470 connections
    // opened in 13 s at c32, and 0.32-0.52 x the allocations of one worker (bench workers).
    const client = await on.connect();
    try {
      const rows = await run<R>(client, text, values, timeoutMs);
      client.release();
      return rows;
    } catch (error) {
      client.release(connectionSurvives(error) ? undefined : (error as Error));
      throw error;
    }
  };
}

async function run<R>(
  client: pg.PoolClient,
  text: string,
  values: unknown[],
  timeoutMs?: number,
): Promise<R[]> {
  const result = await client.query({
    name: nameOf(text),
    text,
    values,
    // the client's own limit for this statement, when it must differ from the connection's
    ...(timeoutMs === undefined ? {} : { query_timeout: timeoutMs }),
  } as pg.QueryConfig);
  return result.rows as R[];
}

/**
 * An error the server answered, short of FATAL, leaves the connection ready for the next
 * statement; anything else (a lost socket, the client's own timeout with the statement maybe
 * still running) closes it.
 */
function connectionSurvives(error: unknown): boolean {
  const { severity } = error as { severity?: unknown };
  return error instanceof DatabaseError && severity !== 'FATAL' && severity !== 'PANIC';
}
