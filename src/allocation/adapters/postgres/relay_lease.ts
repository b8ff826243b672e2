import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { Knex } from 'knex';

/**
 * Leadership of the outbox relay as a lease: one row of `relay_leases` names its holder and
 * when the lease expires. It is taken, or renewed by its holder, with one UPDATE that matches
 * only when the lease has expired or is already ours, so it needs no session state: it works
 * through a transaction-mode pooler and on distributed engines alike. A holder that dies stops
 * renewing, and another process takes the lease once it has expired.
 */
export class RelayLease {
  /** Unique per instance: a restarted process is a new holder and waits for the old lease. */
  readonly holder = `${os.hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  /** By our own clock, from before the UPDATE was sent: never later than the row's expiry. */
  private validUntil = 0;

  constructor(
    private readonly db: Knex,
    readonly ttlMs: number,
    readonly name = 'outbox_relay',
  ) {}

  /** Takes the lease or renews ours; false when another holder's lease is still running. */
  acquire(): Promise<boolean> {
    return this.extend('(expires_at < now() OR holder = ?)');
  }

  /** Renews the lease only if it is still ours: never takes back one released meanwhile. */
  renew(): Promise<boolean> {
    return this.extend('holder = ?');
  }

  private async extend(condition: string): Promise<boolean> {
    const sentAt = Date.now();
    const result = await this.db.raw<{ rowCount: number }>(
      `UPDATE relay_leases SET holder = ?, expires_at = now() + ? * interval '1 millisecond'
       WHERE name = ? AND ${condition}`,
      [this.holder, this.ttlMs, this.name, this.holder],
    );
    const held = result.rowCount === 1;
    this.validUntil = held ? sentAt + this.ttlMs : 0;
    return held;
  }

  /** Whether the lease is ours for at least `marginMs` more. */
  heldFor(marginMs: number): boolean {
    return Date.now() + marginMs < this.validUntil;
  }

  /** Found lost (another holder's, or expired): held no more until acquired again. */
  lost(): void {
    this.validUntil = 0;
  }

  /** Gives the lease up (if still ours), so another process can take it at once. */
  async release(): Promise<void> {
    if (this.validUntil === 0) return;
    this.validUntil = 0;
    await this.db.raw(
      `UPDATE relay_leases SET holder = NULL, expires_at = '-infinity' WHERE name = ? AND holder = ?`,
      [this.name, this.holder],
    );
  }
}
