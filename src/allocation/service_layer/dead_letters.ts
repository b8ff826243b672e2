// Dead letters (SPEC section 9): messages set aside, inbound or outbound, and the one replay
// operation that both the HTTP route and the operator console call.
import type { Cause } from './history';

/** A dead letter as operators see it. */
export interface DeadLetter {
  id: string;
  source: string;
  payload: string;
  reason: string;
  attempts: number;
  created_at: Date;
  replayed_at: Date | null;
}

/** What a replay needs beyond what operators see: where an outbound one goes back to. */
export interface StoredDeadLetter extends DeadLetter {
  /** Set for an outbound message (one the outbox relay gave up on). */
  outbound: boolean;
}

/** The port: dead letters in storage (adapters/postgres/dead_letter_store.ts). Discarded ones are not found. */
export interface DeadLetterStore {
  /** Sets a message aside; returns the new dead letter's id. */
  add(source: string, payload: string, reason: string): Promise<string>;
  list(limit?: number, source?: string): Promise<DeadLetter[]>;
  get(id: string): Promise<StoredDeadLetter | undefined>;
  /** Sets replayed_at unless it is set; false when another replay got there first. */
  markReplayed(id: string): Promise<boolean>;
  /**
   * For an outbound dead letter: sets replayed_at and writes the message back to the outbox as
   * a new row, in one transaction; false when it was already replayed.
   */
  requeue(id: string): Promise<boolean>;
  /** Discards it (kept, hidden, until retention prunes it); false for an unknown id. */
  discard(id: string): Promise<boolean>;
}

export interface DeadLetterReplayDeps {
  store: DeadLetterStore;
  /**
   * Hands an inbound message to the consumer's own handling, under the given message id (so the
   * inbox makes a repeat harmless); resolves to the reason when it fails, else undefined.
   */
  redeliverInbound(
    source: string,
    payload: string,
    messageId: string,
    /** What its history names: this replay of the dead letter. */
    cause: Cause,
  ): Promise<string | undefined>;
  /** Tells the relay there is work (after a requeue). */
  outboxWritten(): void;
}

export type ReplayResult =
  /** An inbound message handled, or an outbound one back in the outbox. */
  | { id: string; status: 'replayed' | 'requeued' | 'already replayed' }
  /** An inbound message that failed again: it is a new dead letter. */
  | { id: string; status: 'failed'; reason: string; dead_letter_id: string };

/**
 * Sends a dead letter through its original path again: an inbound one to the bus, an outbound
 * one back to the relay. Replaying it twice is a no-op. Undefined for an unknown id.
 */
export async function replayDeadLetter(
  id: string,
  deps: DeadLetterReplayDeps,
): Promise<ReplayResult | undefined> {
  const letter = await deps.store.get(id);
  if (!letter) return undefined;
  if (letter.replayed_at !== null) return { id, status: 'already replayed' };
  if (letter.outbound) {
    if (!(await deps.store.requeue(id))) return { id, status: 'already replayed' };
    deps.outboxWritten();
    return { id, status: 'requeued' };
  }
  // Handled first, marked after: a crash in between leaves it replayable, and the message id
  // (the message's own, or one derived from this dead letter) stops a second effect.
  const reason = await deps.redeliverInbound(letter.source, letter.payload, `dead-letter-${id}`, {
    kind: 'replay',
    id,
  });
  if (!(await deps.store.markReplayed(id))) return { id, status: 'already replayed' };
  if (reason === undefined) return { id, status: 'replayed' };
  const again = await deps.store.add(letter.source, letter.payload, reason);
  return { id, status: 'failed', reason, dead_letter_id: again };
}
