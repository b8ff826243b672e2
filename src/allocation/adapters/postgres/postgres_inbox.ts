import type { Inbox } from '../../service_layer/unit_of_work';
import type { Query } from './prepared';

/** What the inbox needs of a unit of work's run: its reads, and the message id it will commit. */
export interface InboxRun {
  query: Query;
  messageId: string | undefined;
  messageIdMadeHere: boolean;
}

/**
 * The inbox of one run: a message id already processed is refused; a new one is only noted
 * here, and written with the run's changes when it commits (apply_product_changes).
 */
export function runInbox(run: InboxRun): Inbox {
  return {
    async markProcessed(messageId: string, madeHere = false): Promise<boolean> {
      const seen = await run.query(
        'SELECT 1 FROM processed_messages WHERE message_id = $1 AND made_here = $2',
        [messageId, madeHere],
      );
      if (seen.length > 0) return false;
      run.messageId = messageId;
      run.messageIdMadeHere = madeHere;
      return true;
    },
  };
}
