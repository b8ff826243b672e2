import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { StringDecoder } from 'node:string_decoder';
import { isSafeNumber, parse as parseLossless } from 'lossless-json';
import { translateDbError } from '../../adapters/postgres/pg_errors';
import { ChangeBatchQuantity } from '../../domain/commands';
import type { Cause } from '../../service_layer/history';
import type { MessageBus } from '../../service_layer/messagebus';
import type { Logger } from '../../service_layer/ports';
import { backoffMs } from '../../service_layer/backoff';
import { ConcurrencyError, Unavailable } from '../../service_layer/errors';
import { continuingTrace, inSpan, SpanKind } from '../../service_layer/tracing';
import { ChangeBatchQuantityMessage, MAX_ID_LENGTH } from '../../message_schemas';
import { describeIssues } from '../http/api_schemas';

/** SPEC section 4: a message over this is not parsed, only set aside with its size and start. */
export const MAX_MESSAGE_BYTES = 64 * 1024;
/** What is kept of a message over the limit (a dead letter needs no more). */
export const KEPT_BYTES = 1024;

export type Outcome =
  /** Applied, or changed nothing because a newer change of its batch was applied first. */
  | { kind: 'handled'; superseded?: boolean }
  /** Can never succeed (too big, not JSON, wrong shape): set `payload` aside now. */
  | { kind: 'invalid'; reason: string; payload: string }
  /** Its handler failed (after the bus's own retries): the transport decides what next. */
  | { kind: 'failed'; reason: string; payload: string }
  /**
   * The database was down, busy or timed out until the caller said to stop waiting: no fault of
   * the message, which the transport keeps (pending, or spilled) to be tried again later.
   */
  | { kind: 'deferred'; reason: string };

/**
 * How a message came, beyond its bytes: the id the service gives it when it has none of its own
 * (a stream entry's, a replay's: made up here, so kept apart from senders' ids), its position in
 * its source's order, and whether it applies even when superseded (ChangeDelivery).
 */
export interface InboundDelivery {
  id?: string;
  position?: string;
  force?: boolean;
  /** What its history names, when not the message itself (a replay of a dead letter). */
  cause?: Cause;
}

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

  /** `size` is the size the message had when it arrived, if `raw` is only its start. */
  async process(raw: Buffer, delivery: InboundDelivery = {}, size = raw.length): Promise<Outcome> {
    if (size > MAX_MESSAGE_BYTES) return oversized(raw, size);
    const payload = raw.toString('utf8');
    const message = parse(payload, delivery);
    if (typeof message === 'string') return { kind: 'invalid', reason: message, payload };
    // The handling continues the sender's trace, when the message names one.
    return continuingTrace(message.traceparent, () =>
      inSpan('receive change_batch_quantity', { kind: SpanKind.CONSUMER }, () =>
        this.handle(message.command, payload, delivery?.cause),
      ),
    );
  }

  private async handle(
    parsed: ChangeBatchQuantity,
    payload: string,
    cause?: Cause,
  ): Promise<Outcome> {
    // the chain this message starts: its id, or a new one; its history names the message,
    // unless it is a dead letter replayed
    const correlationId = parsed.messageId ?? randomUUID();
    const chain = {
      correlationId,
      cause: cause ?? { kind: 'message' as const, id: correlationId },
    };
    const logged = { correlation_id: chain.correlationId };
    for (let attempt = 1; ; attempt++) {
      try {
        const done = await this.bus.handle(parsed, chain);
        const superseded = done === 'superseded';
        this.log.info(
          { batchref: parsed.ref, qty: parsed.qty, ...logged },
          superseded ? 'batch quantity change superseded by a newer one' : 'batch quantity changed',
        );
        return { kind: 'handled', superseded };
      } catch (thrown) {
        const error = translateDbError(thrown);
        const e = error as Error;
        if (isTransient(error)) {
          if (this.stopping()) return { kind: 'deferred', reason: `${e.name}: ${e.message}` };
          const delay = backoffMs(attempt, 100, 5_000);
          this.log.warn(
            { err: error, delay, ...logged },
            'transient failure; will retry the message',
          );
          await sleep(delay);
          continue;
        }
        return { kind: 'failed', reason: `${e.name}: ${e.message}`, payload };
      }
    }
  }
}

/**
 * No fault of the message: the database is down, overloaded or timed out, or the bus lost every
 * retry to concurrent changes. Such a message is tried again, never set aside.
 */
function isTransient(error: unknown): boolean {
  return error instanceof Unavailable || error instanceof ConcurrencyError;
}

/** What is kept of a message too big to parse: its size, and its start as whole characters. */
function oversized(raw: Buffer, size: number): Outcome {
  return {
    kind: 'invalid',
    reason:
      `${size} bytes, over the ${MAX_MESSAGE_BYTES}-byte limit: not parsed ` +
      `(the payload kept is its first ${KEPT_BYTES} bytes)`,
    payload: new StringDecoder('utf8').write(raw.subarray(0, KEPT_BYTES)),
  };
}

/**
 * JSON.parse, except that a number a double cannot hold exactly (a 20-digit id, say) stays the
 * text it was sent as, so two different numeric ids can never become one.
 */
function parseJson(payload: string): unknown {
  return parseLossless(payload, undefined, (text) => (isSafeNumber(text) ? Number(text) : text));
}

/** A numeric message id as its decimal string (SPEC section 4); a string id as it is. */
function idText(id: string | number | undefined): string | undefined {
  if (typeof id !== 'number') return id;
  return Number.isInteger(id) ? BigInt(id).toString() : String(id);
}

/** The command and the sender's trace context, or why the payload can never become one. */
function parse(
  payload: string,
  delivery: InboundDelivery,
): { command: ChangeBatchQuantity; traceparent: string | undefined } | string {
  let json: unknown;
  try {
    json = parseJson(payload);
  } catch {
    return 'not JSON'; // a duplicate key included: which value was meant?
  }
  const result = ChangeBatchQuantityMessage.safeParse(json);
  if (!result.success) return describeIssues(result.error);
  const { batchref, qty, traceparent } = result.data;
  const messageId = idText(result.data.message_id ?? result.data.id);
  if (messageId !== undefined && messageId.length > MAX_ID_LENGTH) {
    return `message_id: a numeric id must have at most ${MAX_ID_LENGTH} digits`;
  }
  const { position, force } = delivery;
  const idMadeHere = messageId === undefined && delivery.id !== undefined;
  const command = new ChangeBatchQuantity(batchref, qty, messageId ?? delivery.id, {
    position,
    force,
    idMadeHere,
  });
  return { command, traceparent };
}
