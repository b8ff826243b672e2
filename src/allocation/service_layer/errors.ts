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
