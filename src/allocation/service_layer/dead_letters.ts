// Dead letters (SPEC section 9): messages set aside, inbound or outbound, and the replay that
// both the HTTP routes and the operator console call, for one dead letter or (dead_letter_bulk.ts)
// every open one matching a filter.
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

/** What a replay needs beyond what operators see. */
export interface StoredDeadLetter extends DeadLetter {
  /** Set for an outbound message (one the outbox relay gave up on). */
  outbound: boolean;
  /** An inbound change's place in its source's order (stream entry, pub/sub arrival). */
  position: string | null;
}

/** Open dead letters of one source whose reasons differ only in ids and numbers. */
export interface DeadLetterGroup {
  source: string;
  /** The reason with ids and numbers replaced by `*`. */
  reason: string;
  count: number;
  first_at: Date;
  last_at: Date;
}

/** Which dead letters: every field given must match (reason: a prefix; group: exactly). */
export interface DeadLetterFilter {
  source?: string;
  reason?: string;
  /** A group's reason as GET /dead_letters/groups shows it. */
  group?: string;
  ids?: string[];
}

/** The port: dead letters in storage (adapters/postgres/dead_letter_store.ts). Discarded ones are not found. */
export interface DeadLetterStore {
  /** Sets a message aside; returns the new dead letter's id. */
  add(source: string, payload: string, reason: string, position?: string | null): Promise<string>;
  /** The newest, of one source when given. */
  list(limit?: number, source?: string): Promise<DeadLetter[]>;
  /** Newest first, before the id `before` when given; `more` when others follow. */
  page(
    limit: number,
    filter?: DeadLetterFilter,
    before?: string,
  ): Promise<{ letters: DeadLetter[]; more: boolean }>;
  /** Open dead letters by source and normalised reason, the largest groups first. */
  groups(): Promise<DeadLetterGroup[]>;
  get(id: string): Promise<StoredDeadLetter | undefined>;
  /** Sets replayed_at (and ends any claim) where it is not set yet; the ids it set. */
  markReplayed(ids: string[]): Promise<string[]>;
  /**
   * Outbound dead letters: sets replayed_at and puts each message back in the outbox as it was
   * (its id, so its message_id, and its occurred_at), in one transaction; the ids requeued.
   */
  requeue(ids: string[]): Promise<string[]>;
  /** Discards it (kept, hidden, until retention prunes it); false for an unknown id. */
  discard(id: string): Promise<boolean>;
  /** The newest id now: a bulk action covers what exists when it starts, nothing newer. */
  lastId(): Promise<string | undefined>;
  /**
   * Claims up to `limit` open, unclaimed dead letters that match, with ids after `after` (when
   * given) up to `upTo`, oldest first, in one short transaction; a claim lapses by itself if
   * the process dies, so a crash leaves them replayable. Two operators never claim one letter.
   */
  claim(
    filter: DeadLetterFilter,
    after: string | undefined,
    upTo: string,
    limit: number,
  ): Promise<StoredDeadLetter[]>;
  /** Ends the claims of letters that stay open (superseded). */
  release(ids: string[]): Promise<void>;
  /** Discards up to `limit` open, unclaimed dead letters that match, up to `upTo`; how many. */
  discardBatch(filter: DeadLetterFilter, upTo: string, limit: number): Promise<number>;
}

export interface DeadLetterReplayDeps {
  store: DeadLetterStore;
  /**
   * Hands an inbound message to the consumer's own handling, under the given message id when it
   * has none (made up by the service, so apart from senders' ids) and at its position.
   */
  redeliverInbound(
    letter: StoredDeadLetter,
    messageId: string,
    force: boolean,
    /** What its history names: this replay of the dead letter. */
    cause: Cause,
  ): Promise<Redelivery>;
  /** Tells the relay there is work (after a requeue). */
  outboxWritten(): void;
  /**
   * What a letter's order matters against (an inbound change's batch): a bulk replay replays
   * letters of different keys side by side, and those of one key one after another, in order.
   */
  orderKey?(letter: StoredDeadLetter): string;
}

export type Redelivery =
  | { kind: 'applied' }
  /** A newer change of its batch was applied: it changed nothing. */
  | { kind: 'superseded' }
  | { kind: 'failed'; reason: string };

export type ReplayResult =
  /** An inbound message handled, or an outbound one back in the outbox. */
  | { id: string; status: 'replayed' | 'requeued' | 'already replayed' }
  /** An inbound change older than one applied since: nothing changed; it stays open. */
  | { id: string; status: 'superseded' }
  /** An inbound message that failed again: it is a new dead letter. */
  | { id: string; status: 'failed'; reason: string; dead_letter_id: string };

/**
 * Sends a dead letter through its original path again: an inbound one to the bus, an outbound
 * one back to the relay. Replaying it twice is a no-op; an inbound change superseded by a newer
 * one changes nothing unless forced. Undefined for an unknown id.
 */
export async function replayDeadLetter(
  id: string,
  deps: DeadLetterReplayDeps,
  force = false,
): Promise<ReplayResult | undefined> {
  const letter = await deps.store.get(id);
  if (!letter) return undefined;
  if (letter.replayed_at !== null) return { id, status: 'already replayed' };
  if (letter.outbound) {
    if ((await deps.store.requeue([id])).length === 0) return { id, status: 'already replayed' };
    deps.outboxWritten();
    return { id, status: 'requeued' };
  }
  return replayInbound(letter, deps, force);
}

/** One inbound dead letter, known to be open (bulk replays claim theirs first). */
export async function replayInbound(
  letter: StoredDeadLetter,
  deps: DeadLetterReplayDeps,
  force: boolean,
): Promise<ReplayResult> {
  const { id } = letter;
  // Handled first, marked after: a crash in between leaves it replayable, and the message id
  // (the message's own, or one made up from this dead letter) stops a second effect.
  const outcome = await deps.redeliverInbound(letter, `dead-letter:${id}`, force, {
    kind: 'replay',
    id,
  });
  if (outcome.kind === 'superseded') return { id, status: 'superseded' };
  if ((await deps.store.markReplayed([id])).length === 0) return { id, status: 'already replayed' };
  if (outcome.kind === 'applied') return { id, status: 'replayed' };
  const again = await deps.store.add(
    letter.source,
    letter.payload,
    outcome.reason,
    letter.position,
  );
  return { id, status: 'failed', reason: outcome.reason, dead_letter_id: again };
}
