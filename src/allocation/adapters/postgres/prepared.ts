import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import type { QueryResult } from 'pg';

// Statement texts prepared so far (all of ours are fixed texts; the cap is a safety net).
// Past the cap, texts run unnamed, so a stream of unusual shapes cannot grow without bound.
const MAX_PREPARED = 64;
const prepared = new Map<string, { name: string; text: string }>();

interface PoolClient {
  acquireConnection(): Promise<{ query(config: object): Promise<QueryResult> }>;
  releaseConnection(connection: unknown): Promise<void>;
}

function statementFor(sql: string): { name: string; text: string } | undefined {
  let statement = prepared.get(sql);
  if (!statement && prepared.size < MAX_PREPARED) {
    let n = 0;
    statement = {
      name: `s${createHash('sha1').update(sql).digest('hex').slice(0, 20)}`,
      // our own SQL, with no '?' inside literals: knex-style placeholders become $1, $2, ...
      text: sql.replace(/\?/g, () => `$${++n}`),
    };
    prepared.set(sql, statement);
  }
  return statement;
}

/**
 * Runs `sql` (with knex-style `?` placeholders) as a named prepared statement, so PostgreSQL
 * parses and plans it once per connection instead of on every call: for the statements each
 * allocation runs, planning costs several times what executing does. knex cannot name a
 * statement, so this borrows the pg connection from knex's pool, or from the transaction when
 * `runner` is one (whose client hands out the transaction's connection).
 */
export async function queryPrepared<R>(
  runner: Knex | Knex.Transaction,
  sql: string,
  bindings: unknown[],
  /** The client's own limit for this statement, when it must differ from the connection's. */
  timeoutMs?: number,
): Promise<{ rows: R[] }> {
  const statement = statementFor(sql);
  if (!statement) return runner.raw(sql, bindings as Knex.RawBinding[]);
  const client = runner.client as PoolClient;
  const connection = await client.acquireConnection();
  try {
    const result = await connection.query({
      ...statement,
      values: bindings,
      ...(timeoutMs === undefined ? {} : { query_timeout: timeoutMs }),
    });
    return { rows: result.rows as R[] };
  } finally {
    await client.releaseConnection(connection);
  }
}

/** A statement runner bound to the pool or to a transaction: rows back. */
export type Query = <R>(sql: string, bindings: unknown[], timeoutMs?: number) => Promise<R[]>;

export function preparedQuery(runner: Knex | Knex.Transaction): Query {
  return async <R>(sql: string, bindings: unknown[], timeoutMs?: number) =>
    (await queryPrepared<R>(runner, sql, bindings, timeoutMs)).rows;
}
