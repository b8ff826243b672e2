// The one place that reads PostgreSQL and knex errors: each becomes one of the service's
// named errors (service_layer/errors.ts), so callers decide by kind, never by SQLSTATE.
import { ConcurrencyError, Unavailable } from '../service_layer/errors';

/**
 * SQLSTATEs that say "the database cannot serve this now", not "this request is wrong":
 * overload (53300 too many connections, 53xxx out of resources), cancellation by our own
 * timeouts (57014 statement timeout, 55P03 lock timeout, 25P03 idle-in-transaction timeout),
 * shutdown or recovery (57P01-57P03), and every connection error (class 08).
 */
const UNAVAILABLE_STATES = new Set(['57014', '55P03', '25P03', '57P01', '57P02', '57P03']);
const UNAVAILABLE_CLASSES = ['08', '53'];

/** Conflicts another attempt resolves: serialization failure, deadlock. */
const CONFLICT_STATES = new Set(['40001', '40P01']);

/** Socket errors from the driver: the server is gone, refusing, or unreachable. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND']);

/** pg's and knex's own messages for a lost connection or a client-side timeout. */
const LOST_CONNECTION =
  /Connection terminated|connection not open|Client has encountered a connection error|Query read timeout|timeout exceeded when trying to connect/;

interface DriverError {
  code?: unknown;
  name?: unknown;
  message?: unknown;
}

function kind(error: unknown): 'unavailable' | 'conflict' | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, name, message } = error as DriverError;
  if (typeof code === 'string') {
    if (UNAVAILABLE_STATES.has(code) || SOCKET_CODES.has(code)) return 'unavailable';
    if (UNAVAILABLE_CLASSES.some((prefix) => code.startsWith(prefix)) && code.length === 5) {
      return 'unavailable';
    }
    if (CONFLICT_STATES.has(code)) return 'conflict';
  }
  // knex's pool: no connection free within acquireConnectionTimeout
  if (name === 'KnexTimeoutError') return 'unavailable';
  if (typeof message === 'string' && LOST_CONNECTION.test(message)) return 'unavailable';
  return undefined;
}

/**
 * The service's error for a database error: `Unavailable` (HTTP 503, a message retried later)
 * or `ConcurrencyError` (retried by the bus); anything else is returned as it is. Unique
 * violations are left to the caller, which alone knows whether one means a race.
 */
export function translateDbError(error: unknown): unknown {
  if (error instanceof Unavailable || error instanceof ConcurrencyError) return error;
  switch (kind(error)) {
    case 'unavailable':
      return new Unavailable(`Database unavailable: ${(error as Error).message}`, {
        cause: error,
      });
    case 'conflict':
      return new ConcurrencyError((error as Error).message, { cause: error });
    default:
      return error;
  }
}
