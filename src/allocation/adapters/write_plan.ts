import type { Knex } from 'knex';
import { queryPrepared } from './prepared';

/** SQL that a write adds to its WHERE clause, so it happens only if every version check passed. */
export const CHECKS_PASSED = 'EXISTS (SELECT 1 FROM checks_passed)';

interface Statement {
  sql: string;
  bindings: unknown[];
}

/**
 * Everything a unit of work writes, sent as ONE statement of data-modifying CTEs. Checks (the
 * version updates) run first; every write is gated on all of them returning a row, so a
 * statement either applies completely or, when another transaction got there first, not at
 * all. One statement is atomic without BEGIN/COMMIT and costs one round trip.
 */
export class WritePlan {
  private readonly checks: Statement[] = [];
  private readonly writes: Statement[] = [];

  /** A statement that must return exactly one row (RETURNING 1) for the plan to apply. */
  check(sql: string, bindings: unknown[]): void {
    this.checks.push({ sql, bindings });
  }

  /** A write gated by CHECKS_PASSED; returns a name for its rows, for a later write to read. */
  write(sql: string, bindings: unknown[]): string {
    this.writes.push({ sql, bindings });
    return `__W${this.writes.length - 1}__`;
  }

  get isEmpty(): boolean {
    return this.checks.length === 0 && this.writes.length === 0;
  }

  /** Nothing to check: such plans can share a statement with others (see CommitGroup). */
  get isUnconditional(): boolean {
    return this.checks.length === 0;
  }

  /** Runs the plan; false when a check failed and so nothing was written. */
  async execute(runner: Knex | Knex.Transaction): Promise<boolean> {
    return WritePlan.executeTogether([this], runner);
  }

  /** Runs several plans as one statement; their checks gate all of their writes together. */
  static async executeTogether(
    plans: WritePlan[],
    runner: Knex | Knex.Transaction,
  ): Promise<boolean> {
    const checks = plans.flatMap((p) => p.checks);
    if (checks.length === 0 && plans.every((p) => p.writes.length === 0)) return true;
    // Names depend only on positions, so a plan shape always gives the same text (and so
    // the same prepared statement).
    const writes = plans.flatMap((plan, i) =>
      plan.writes.map((w, j) => ({
        name: `p${i}w${j}`,
        sql: w.sql.replace(/__W(\d+)__/g, `p${i}w$1`),
        bindings: w.bindings,
      })),
    );
    const passed = checks.map((_, i) => `(SELECT count(*) FROM c${i}) = 1`);
    const ctes = [
      ...checks.map((c, i) => `c${i} AS (${c.sql})`),
      `checks_passed AS (SELECT 1 WHERE ${passed.length > 0 ? passed.join(' AND ') : 'true'})`,
      ...writes.map((w) => `${w.name} AS (${w.sql})`),
    ];
    const { rows } = await queryPrepared<{ passed: boolean }>(
      runner,
      `WITH ${ctes.join(',\n')} SELECT ${CHECKS_PASSED} AS passed`,
      [...checks, ...writes].flatMap((s) => s.bindings),
    );
    return rows[0].passed;
  }
}

/**
 * Group commit for unconditional plans (read-model updates, say): those submitted while a
 * statement is on its way go together in the next one, so under load many units of work share
 * a round trip and a commit. If a combined statement fails, each plan runs alone, so one bad
 * write cannot take the others down, and each caller gets its own outcome.
 */
export class CommitGroup {
  private queue: { plan: WritePlan; done: (error?: unknown) => void }[] = [];
  private flushing = false;

  constructor(private readonly db: Knex) {}

  submit(plan: WritePlan): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({
        plan,
        done: (error) =>
          error === undefined
            ? resolve()
            : reject(error instanceof Error ? error : new Error('group commit failed')),
      });
      if (!this.flushing) {
        this.flushing = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      try {
        await WritePlan.executeTogether(
          batch.map((b) => b.plan),
          this.db,
        );
        for (const b of batch) b.done();
      } catch (error) {
        if (batch.length === 1) batch[0].done(error);
        else await this.oneByOne(batch);
      }
    }
    this.flushing = false;
  }

  private async oneByOne(batch: { plan: WritePlan; done: (error?: unknown) => void }[]) {
    for (const b of batch) {
      try {
        await b.plan.execute(this.db);
        b.done();
      } catch (error) {
        b.done(error);
      }
    }
  }
}
