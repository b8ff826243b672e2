import { translateDbError } from '../adapters/pg_errors';
import { withCorrelationId } from '../correlation';
import { ChangeBatchQuantity } from '../domain/commands';
import type { MessageBus } from '../service_layer/messagebus';
import type { Logger } from '../service_layer/ports';
import { backoffMs } from '../service_layer/backoff';
import { ConcurrencyError, Unavailable } from '../service_layer/errors';
import { ChangeBatchQuantityMessage, describeIssues } from './api_schemas';

export type Outcome =
  | { kind: 'handled' }
  /** Can never succeed (not JSON, wrong shape): set it aside now. */
  | { kind: 'invalid'; reason: string }
  /** Its handler failed (after the bus's own retries): the transport decides what next. */
  | { kind: 'failed'; reason: string };

/**
 * Turns one raw `change_batch_quantity` payload into a command on the bus, whichever transport
 * brought it (pub/sub or a stream). While the database is down or busy it waits and tries
 * again, since that is no fault of the message.
 */
export class ChangeBatchQuantityInbound {
  constructor(
    private readonly bus: MessageBus,
    private readonly log: Logger,
    private readonly stopping: () => boolean,
  ) {}

  /**
   * `delivery` describes a stream entry: its id (the message id when the message carries none)
   * and its position in the stream, which orders changes applied by competing consumers.
   */
  async process(payload: string, delivery?: { id: string; position: string }): Promise<Outcome> {
    const parsed = parse(payload, delivery);
    if (typeof parsed === 'string') return { kind: 'invalid', reason: parsed };
    return withCorrelationId(parsed.messageId, async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          await this.bus.handle(parsed);
          this.log.info({ batchref: parsed.ref, qty: parsed.qty }, 'batch quantity changed');
          return { kind: 'handled' };
        } catch (thrown) {
          const error = translateDbError(thrown);
          if (isTransient(error) && !this.stopping()) {
            const delay = backoffMs(attempt, 100, 5_000);
            this.log.warn({ err: error, delay }, 'transient failure; will retry the message');
            await new Promise((resolve) => setTimeout(resolve, delay));
            continue;
          }
          const e = error as Error;
          return { kind: 'failed', reason: `${e.name}: ${e.message}` };
        }
      }
    });
  }
}

/**
 * No fault of the message: the database is down, overloaded or timed out, or the bus lost every
 * retry to concurrent changes. Such a message is tried again, never set aside.
 */
function isTransient(error: unknown): boolean {
  return error instanceof Unavailable || error instanceof ConcurrencyError;
}

/** The command, or why the payload can never become one. */
function parse(
  payload: string,
  delivery: { id: string; position: string } | undefined,
): ChangeBatchQuantity | string {
  let json: unknown;
  try {
    json = JSON.parse(payload);
  } catch {
    return 'not JSON';
  }
  const result = ChangeBatchQuantityMessage.safeParse(json);
  if (!result.success) return describeIssues(result.error);
  const { batchref, qty, message_id, id } = result.data;
  return new ChangeBatchQuantity(
    batchref,
    qty,
    message_id ?? id ?? delivery?.id,
    delivery?.position,
  );
}
