import type { PubsubSpill, SpilledEntry } from './pubsub_spill';

/**
 * The pub/sub consumer's way back from spill mode: reads the spill in order and hands each entry
 * to the consumer, removing an entry only once it was handled (or set aside), so a stop or a
 * failure leaves it, and everything after it, to be read again.
 */
export class PubsubSpillDrain {
  private groupCreated = false;

  constructor(
    private readonly spill: PubsubSpill,
    /** False when the entry must stay in the spill, to be tried again (and nothing after it). */
    private readonly handle: (entry: SpilledEntry) => Promise<boolean>,
    /** Called once the spill is handled to its end, right after the check: no append slips past. */
    private readonly onEmpty: () => void,
  ) {}

  /** Redis lost the stream (it restarted empty): the next drain creates the group again. */
  groupLost(): void {
    this.groupCreated = false;
  }

  /** Handles the spill in order; 'empty' once it is (and memory is used again). */
  async drain(): Promise<'empty' | 'deferred'> {
    if (!this.groupCreated) await this.spill.createGroup();
    this.groupCreated = true;
    for (;;) {
      const entries = await this.spill.read();
      if (entries.length === 0) {
        // Appends still on their way are read next time round; memory only once none are.
        if (!this.spill.idle) return this.spill.flushed().then(() => 'empty' as const);
        this.onEmpty();
        return 'empty';
      }
      const done: string[] = [];
      try {
        for (const entry of entries) {
          if (!(await this.handle(entry))) return 'deferred';
          done.push(entry.id);
        }
      } finally {
        await this.spill.remove(done);
      }
    }
  }
}
