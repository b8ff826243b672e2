// The service's named errors, each a sentence an API user can read. Entrypoints map them to
// statuses (entrypoints/http/http_errors.ts); the domain never sees them.

export class InvalidSku extends Error {
  name = 'InvalidSku';
}

export class DuplicateBatch extends Error {
  name = 'DuplicateBatch';
}

export class UnknownBatch extends Error {
  name = 'UnknownBatch';
}

/** Two transactions changed one product: the later commit loses. Retried by the bus. */
export class ConcurrencyError extends Error {
  name = 'ConcurrencyError';
}

/**
 * A dependency is down, overloaded or too slow (a timeout, too many connections): not the
 * caller's fault and worth trying again later. HTTP answers 503; a message is retried.
 */
export class Unavailable extends Error {
  name = 'Unavailable';
}

/**
 * A delivery that can never succeed however often it is tried (an SMTP 5xx, say): the relay
 * makes it a dead letter at once instead of retrying.
 */
export class PermanentDeliveryError extends Error {
  name = 'PermanentDeliveryError';
}

/**
 * The transport a delivery needs cannot be reached (connection refused or reset, a timeout): an
 * outage, no fault of the message. The relay opens the handler's circuit (circuit_breaker.ts)
 * and does not count the attempt toward OUTBOX_MAX_ATTEMPTS. Adapters classify their own errors.
 */
export class TransportUnreachable extends Error {
  name = 'TransportUnreachable';
}

/**
 * A handler that delivers its messages one after another, in commit order, sent the first
 * `delivered` of them and then failed with `failure` on the next: the relay records those as
 * delivered and knows which one failed, without sending any of them twice.
 */
export class PartlyDelivered extends Error {
  name = 'PartlyDelivered';

  constructor(
    readonly delivered: number,
    readonly failure: unknown,
  ) {
    super(`${delivered} delivered, then: ${String(failure)}`);
  }
}
