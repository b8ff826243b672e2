// Named prepared statements on pg's pool or on one of its connections: PostgreSQL parses and
// plans each of our statements once per connection instead of on every call. For the
// statements each allocation runs, planning costs several times what executing does (the
// product load: 330 us of PostgreSQL CPU planned per call, 47 us with its plan reused; see
// repository.ts). knex cannot name a statement, so the hot path speaks pg directly.
import { createHash } from 'node:crypto';
import type pg from 'pg';

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
  return async <R>(text: string, values: unknown[], timeoutMs?: number) => {
    const result = await on.query({
      name: nameOf(text),
      text,
      values,
      // the client's own limit for this statement, when it must differ from the connection's
      ...(timeoutMs === undefined ? {} : { query_timeout: timeoutMs }),
    } as pg.QueryConfig);
    return result.rows as R[];
  };
}
