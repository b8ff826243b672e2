import type { DeadLetterReplayDeps, DeadLetterStore } from '../../service_layer/dead_letters';
import type { MessageBus } from '../../service_layer/messagebus';
import type { Logger } from '../../service_layer/ports';
import { ChangeBatchQuantityInbound } from './inbound';

// How long a replay waits for a database that is down before it counts as failed: an operator's
// request should get an answer, not hang.
const REPLAY_PATIENCE_MS = 5_000;

/**
 * What replaying a dead letter needs (service_layer/dead_letters.ts): every inbound dead letter
 * is a change_batch_quantity message, from pub/sub or a stream, so it goes through the same
 * handling as the consumers', at the position it had when it arrived (so a newer change applied
 * since supersedes it), under the message id the replay made up when the message has none (a
 * made-up id: the inbox keeps it apart from every sender's).
 */
export function deadLetterReplayDeps(
  bus: MessageBus,
  log: Logger,
  store: DeadLetterStore,
  outboxWritten: () => void,
): DeadLetterReplayDeps {
  return {
    store,
    redeliverInbound: async (letter, messageId, force, cause) => {
      const giveUpAt = Date.now() + REPLAY_PATIENCE_MS;
      const inbound = new ChangeBatchQuantityInbound(bus, log, () => Date.now() > giveUpAt);
      const delivery = { id: messageId, position: letter.position ?? undefined, force, cause };
      const outcome = await inbound.process(Buffer.from(letter.payload, 'utf8'), delivery);
      if (outcome.kind !== 'handled') return { kind: 'failed', reason: outcome.reason };
      return { kind: outcome.superseded === true ? 'superseded' : 'applied' };
    },
    outboxWritten,
    orderKey: (letter) => batchrefOf(letter.payload),
  };
}

/** The batch a change names, or '' when the payload does not say (it will fail anyway). */
function batchrefOf(payload: string): string {
  try {
    const batchref = (JSON.parse(payload) as { batchref?: unknown }).batchref;
    return typeof batchref === 'string' ? batchref : '';
  } catch {
    return '';
  }
}
