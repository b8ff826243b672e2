import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { StringDecoder } from 'node:string_decoder';
import { isSafeNumber, parse as parseLossless } from 'lossless-json';
import { translateDbError } from '../../adapters/postgres/pg_errors';
import { ChangeBatchQuantity } from '../../domain/commands';
import type { DeadLetterReplayDeps, DeadLetterStore } from '../../service_layer/dead_letters';
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
  | { kind: 'handled' }
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
   * `size` is the size the message had when it arrived, if `raw` is only its start.
   */
  async process(
    raw: Buffer,
    delivery?: { id: string; position?: string; cause?: Cause },
    size = raw.length,
  ): Promise<Outcome> {
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
        await this.bus.handle(parsed, chain);
        this.log.info(
          { batchref: parsed.ref, qty: parsed.qty, ...logged },
          'batch quantity changed',
        );
        return { kind: 'handled' };
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
  delivery: { id: string; position?: string } | undefined,
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
  const command = new ChangeBatchQuantity(
    batchref,
    qty,
    messageId ?? delivery?.id,
    delivery?.position,
  );
  return { command, traceparent };
}

// How long a replay waits for a database that is down before it counts as failed: an operator's
// request should get an answer, not hang.
const REPLAY_PATIENCE_MS = 5_000;

/**
 * What replaying a dead letter needs (service_layer/dead_letters.ts): every inbound dead letter
 * is a change_batch_quantity message, from pub/sub or a stream, so it goes through the same
 * handling as the consumers', under the message id the replay gives it.
 */
export function deadLetterReplayDeps(
  bus: MessageBus,
  log: Logger,
  store: DeadLetterStore,
  outboxWritten: () => void,
): DeadLetterReplayDeps {
  return {
    store,
    redeliverInbound: async (_source, payload, messageId, cause) => {
      const giveUpAt = Date.now() + REPLAY_PATIENCE_MS;
      const inbound = new ChangeBatchQuantityInbound(bus, log, () => Date.now() > giveUpAt);
      const outcome = await inbound.process(Buffer.from(payload, 'utf8'), { id: messageId, cause });
      return outcome.kind === 'handled' ? undefined : outcome.reason;
    },
    outboxWritten,
  };
}
