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

/**
 * Pub/sub messages' arrivals, in the form of stream entry ids (milliseconds, then a sequence
 * within the millisecond), strictly increasing even if the clock steps back.
 */
export function arrivalPositions(): (now?: number) => string {
  let lastMs = 0;
  let thisMs = 0;
  return (now = Date.now()) => {
    if (now > lastMs) [lastMs, thisMs] = [now, 0];
    else thisMs += 1;
    return sortablePosition(`${lastMs}-${thisMs}`);
  };
}

/** The process's own: every pub/sub message it receives takes its position from here. */
export const arrivalPosition = arrivalPositions();
