import type { DeadLetters } from '../../adapters/postgres/dead_letter_store';
import type { Logger } from '../../service_layer/ports';

/**
 * Stores a message that cannot be processed, with the reason, for an operator to see. False
 * when it could not be stored: a transport that can redeliver must then not acknowledge it.
 */
export async function setAside(
  deadLetters: DeadLetters,
  log: Logger,
  source: string,
  payload: string,
  reason: string,
  /** Where it stood in its source's order: a replay compares it with what was applied since. */
  position?: string,
): Promise<boolean> {
  log.warn({ source, payload, reason }, 'message set aside');
  try {
    await deadLetters.add(source, payload, reason, position);
    return true;
  } catch (error) {
    // The log line above still holds the payload and the reason.
    log.error({ err: error, payload }, 'could not store the dead letter');
    return false;
  }
}
