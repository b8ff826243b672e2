// The audit of operator actions (SPEC section 9): who replayed, discarded, paused or resumed
// what, and what came of it. Entrypoints record through recordOperatorAction, whatever the route
// (API or console); storage is a port (adapters/postgres/audit_log.ts).

/** Who acted: ADMIN_TOKEN as a bearer token, the console's session, or anyone (no ADMIN_TOKEN). */
export type Actor = 'admin' | 'console' | 'open';

export interface AuditEntry {
  at: Date;
  actor: Actor;
  /** What was done: `replay`, `discard`, `bulk_replay`, `bulk_discard`, `pause`, `resume`... */
  action: string;
  /** What it was done to: a dead letter's id, a filter as JSON, a handler's name. */
  target: string;
  /** What came of it, briefly: a status, or a summary as JSON. */
  result: string;
}

export interface AuditLog {
  record(entry: Omit<AuditEntry, 'at'>): Promise<void>;
  /** Newest first. */
  recent(limit: number): Promise<AuditEntry[]>;
}

/**
 * Runs an operator action and records it with its result (`describe` turns what the action
 * returned into the result text); an action that throws is recorded as failed, then rethrown.
 * Recorded after the action: the audit tells what happened, not what was asked.
 */
export async function recordOperatorAction<T>(
  audit: AuditLog,
  entry: { actor: Actor; action: string; target: string },
  act: () => Promise<T>,
  describe: (result: T) => string = (result) => JSON.stringify(result ?? null),
): Promise<T> {
  let result: T;
  try {
    result = await act();
  } catch (error) {
    await audit.record({ ...entry, result: `error: ${(error as Error).message}`.slice(0, 2000) });
    throw error;
  }
  await audit.record({ ...entry, result: describe(result) });
  return result;
}
