import { PermanentDeliveryError, TransportUnreachable } from '../../service_layer/errors';

// nodemailer's codes for a server it could not talk to (it wraps the socket's ECONNREFUSED in
// ESOCKET), as opposed to a server that answered and refused this message.
const UNREACHABLE_CODES = new Set([
  'ECONNECTION',
  'ESOCKET',
  'ETIMEDOUT',
  'EDNS',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/**
 * What a failed send is to the relay: a 5xx fails for good (retrying cannot help: a dead letter
 * at once); a server that cannot be reached, or that says it is closing (421), is an outage
 * (TransportUnreachable: the circuit opens, nothing counts); anything else is retried, counted.
 */
export function smtpDeliveryError(error: unknown): unknown {
  const { responseCode, code } = error as { responseCode?: number; code?: string };
  const message = (error as Error).message;
  if (responseCode !== undefined && responseCode >= 500 && responseCode < 600) {
    return new PermanentDeliveryError(`SMTP ${responseCode}: ${message}`);
  }
  if (responseCode === 421 || (typeof code === 'string' && UNREACHABLE_CODES.has(code))) {
    return new TransportUnreachable(`SMTP server unreachable: ${message}`);
  }
  return error;
}
