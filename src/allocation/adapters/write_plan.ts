import type { Knex } from 'knex';
import { queryPrepared } from './prepared';

/** SQL that a write adds to its WHERE clause, so it happens only if every version check passed. */
export const CHECKS_PASSED = 'EXISTS (SELECT 1 FROM checks_passed)';

/**
 * Everything a unit of work writes, sent as ONE statement of data-modifying CTEs. Checks (the
 * version updates) run first; every write is gated on all of them returning a row, so a
 * statement either applies completely or, when another transaction got there first, not at
 * all. One statement is atomic without BEGIN/COMMIT and costs one round trip.
 */
export class WritePlan {
  private readonly checks: { sql: string; bindings: unknown[] }[] = [];
  private readonly writes: { sql: string; bindings: unknown[] }[] = [];

  /** A statement that must return exactly one row (RETURNING 1) for the plan to apply. */
  check(sql: string, bindings: unknown[]): void {
    this.checks.push({ sql, bindings });
  }

  /** A write gated by CHECKS_PASSED; returns its CTE name, for a later write to read from. */
  write(sql: string, bindings: unknown[]): string {
    this.writes.push({ sql, bindings });
    return `w${this.writes.length - 1}`;
  }

  get isEmpty(): boolean {
    return this.checks.length === 0 && this.writes.length === 0;
  }

  /** Runs the plan; false when a check failed and so nothing was written. */
  async execute(runner: Knex | Knex.Transaction): Promise<boolean> {
    if (this.isEmpty) return true;
    const checks = this.checks.map((c, i) => `c${i} AS (${c.sql})`);
    const passed = this.checks.map((_, i) => `(SELECT count(*) FROM c${i}) = 1`);
    const ctes = [
      ...checks,
      `checks_passed AS (SELECT 1 WHERE ${passed.length > 0 ? passed.join(' AND ') : 'true'})`,
      ...this.writes.map((w, i) => `w${i} AS (${w.sql})`),
    ];
    const bindings = [...this.checks, ...this.writes].flatMap((s) => s.bindings);
    const { rows } = await queryPrepared<{ passed: boolean }>(
      runner,
      `WITH ${ctes.join(',\n')} SELECT ${CHECKS_PASSED} AS passed`,
      bindings,
    );
    return rows[0].passed;
  }
}
