// The one place that reads PostgreSQL and knex errors: each becomes one of the service's
// named errors (service_layer/errors.ts), so callers decide by kind, never by SQLSTATE.
import { ConcurrencyError, DuplicateBatch, Unavailable } from '../../service_layer/errors';
import { isUniqueViolation } from './db';

/**
 * SQLSTATEs that say "the database cannot serve this now", not "this request is wrong":
 * overload (53300 too many connections, 53xxx out of resources), cancellation by our own
 * timeouts (57014 statement timeout, 55P03 lock timeout, 25P03 idle-in-transaction timeout),
 * shutdown or recovery (57P01-57P03), every connection error (class 08), and a table not there
 * yet (42P01: a database not migrated yet, or a read replica that has not replayed the
 * migrations yet).
 */
const UNAVAILABLE_STATES = new Set(['57014', '55P03', '25P03', '57P01', '57P02', '57P03', '42P01']);
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

/** apply_product_changes' version check failed: another unit of work changed the product. */
export function isVersionConflict(error: unknown): boolean {
  return (error as { code?: string })?.code === '40001';
}

/**
 * The service's error for a failed commit of products (adapters/postgres/postgres_unit_of_work.ts): a lost
 * version race, or a line or message id written by someone else at the same moment, is a
 * ConcurrencyError; a batch ref already taken is DuplicateBatch; anything else is returned.
 */
export function translateCommitError(error: unknown): unknown {
  const e = error as { code?: string; detail?: string };
  if (isVersionConflict(error)) {
    return new ConcurrencyError('A product was changed by another transaction');
  }
  // A ref taken by any sku (batch_refs), or by this one (batches), also under a shard's name
  // (batch_refs_pkey_102040). On Citus, claim_batch_ref raises it as batch_refs_pkey on the
  // coordinator (20261127235100): a worker's own violation reaches the client without its
  // constraint, and one in a COPY (INSERT ... SELECT) as XX000.
  const constraint = (error as { constraint?: string })?.constraint ?? '';
  if (
    isUniqueViolation(error) &&
    /^(batch_refs_pkey|batches_reference_unique)(_\d+)?$/.test(constraint)
  ) {
    const ref = /=\((.*)\) already exists/.exec(e.detail ?? '');
    return new DuplicateBatch(`Batch ${ref?.[1] ?? ''} already exists`);
  }
  // Someone else wrote the same line or message id at the same moment.
  if (isUniqueViolation(error)) return new ConcurrencyError((error as Error).message);
  return error;
}
