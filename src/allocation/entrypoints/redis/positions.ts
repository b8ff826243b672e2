// Where an inbound change stands in its source's order, as text that sorts like that order
// (batches.quantity_position, dead_letters.position): a stream entry's id, or for pub/sub, which
// has no ids, when the message arrived. A dead letter keeps it, so a replay can tell a stale
// change from a fresh one (SPEC section 4, "Superseded changes").

/** Digits of each part of a stream entry id: both are unsigned 64-bit numbers in Redis. */
const ID_PART_DIGITS = 20;

/**
 * A stream entry id `ms-seq` as a string that sorts like the ids do, for every id Redis
 * accepts: both parts zero-padded to 20 digits (41 characters; batches.quantity_position).
 */
export function sortablePosition(entryId: string): string {
  const [ms, seq = '0'] = entryId.split('-');
  return `${ms.padStart(ID_PART_DIGITS, '0')}-${seq.padStart(ID_PART_DIGITS, '0')}`;
}

let lastArrivalMs = 0;
let arrivalsThisMs = 0;

/**
 * A pub/sub message's arrival, in the form of a stream entry id (milliseconds, then a sequence
 * within the millisecond), strictly increasing within this process even if the clock steps back.
 */
export function arrivalPosition(now = Date.now()): string {
  if (now > lastArrivalMs) [lastArrivalMs, arrivalsThisMs] = [now, 0];
  else arrivalsThisMs += 1;
  return sortablePosition(`${lastArrivalMs}-${arrivalsThisMs}`);
}
