import { TransportUnreachable } from '../../service_layer/errors';

// What ioredis (and the socket under it) says when Redis cannot be reached, as opposed to a reply
// of a Redis that answered (a script error, a wrong type): only these open the relay's circuit.
const UNREACHABLE_MESSAGES = [
  'Connection is closed',
  "Stream isn't writeable", // no connection, and no offline queue to wait in
  'Command timed out',
  'Reached the max retries per request limit', // MaxRetriesPerRequestError: the connection dropped
  'Cluster is disconnect',
  "Cluster isn't ready",
  'None of startup nodes is available',
  'Node is disconnected',
  'No master node is available',
  'Failed to refresh slots cache',
];
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNABORTED',
]);
// Replies of a Redis that is up but cannot serve yet (loading its data, no master, a resharding).
const NOT_READY_REPLIES = /^(LOADING|MASTERDOWN|CLUSTERDOWN|TRYAGAIN)\b/;

/** True when `error` says Redis could not be reached, not that it refused this command. */
export function isRedisUnreachable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && SOCKET_CODES.has(code)) return true;
  if (error.name === 'MaxRetriesPerRequestError' || error.name === 'ClusterAllFailedError') {
    return true;
  }
  const message = error.message;
  return (
    NOT_READY_REPLIES.test(message) ||
    UNREACHABLE_MESSAGES.some((text) => message.includes(text)) ||
    [...SOCKET_CODES].some((socketCode) => message.startsWith(`connect ${socketCode}`))
  );
}

/** The error a delivery through Redis throws: an outage as TransportUnreachable, else as it came. */
export function redisDeliveryError(error: unknown): unknown {
  if (!isRedisUnreachable(error)) return error;
  return new TransportUnreachable(`Redis unreachable: ${(error as Error).message}`);
}
