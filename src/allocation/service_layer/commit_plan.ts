// What a commit writes besides the products themselves, decided by one pure function from the
// products' events and the event handler table (handlers.ts, EVENT_HANDLERS) given as data: the
// read-model rows the inline handlers write, one outbox row per outbox handler of each event
// (carrying the event's cause on to the handler's own commit), and one history row per event. The unit of work on PostgreSQL and the fake one of the unit tests both call it, so
// neither knows the message bus and both write the same thing.
import type { Event } from '../domain/events';
import { historyRows, type Cause, type CauseOf, type HistoryRow } from './history';
import type { ReadModel, ReadModelRow } from './unit_of_work';

/** Runs inside a commit: records what the events change in the read model, nothing else. */
export type InlineHandler = (events: never[], readModel: ReadModel) => void;

/** What a commit needs of an event's handlers: the inline ones, and the outbox ones' names. */
export interface CommitHandlers {
  inline: readonly InlineHandler[];
  /** By name: the name is stored on the event's outbox rows. */
  outbox: Readonly<Record<string, unknown>>;
}

/** Handlers by message class (the bus's table holds commands' classes' kind too). */
type MessageClass = abstract new (...args: never[]) => object;
export type HandlerTable = ReadonlyMap<MessageClass, CommitHandlers>;

/** What the events of one product's commit write with it, in the order they were raised. */
export interface CommitPlan {
  viewRows: ReadModelRow[];
  outbox: { event: Event; handler: string; cause: Cause | null }[];
  history: HistoryRow[];
}

export function commitPlan(
  events: readonly Event[],
  table: HandlerTable,
  causeOf: CauseOf = () => undefined,
): CommitPlan {
  const viewRows: ReadModelRow[] = [];
  const readModel: ReadModel = { apply: (rows) => void viewRows.push(...rows) };
  const outbox: CommitPlan['outbox'] = [];
  for (const event of events) {
    const handlers = handlersOf(table, event);
    for (const inline of handlers.inline) {
      (inline as (events: Event[], readModel: ReadModel) => void)([event], readModel);
    }
    const cause = causeOf(event) ?? null;
    for (const handler of Object.keys(handlers.outbox)) outbox.push({ event, handler, cause });
  }
  return { viewRows, outbox, history: historyRows(events, causeOf) };
}

/** The names of an event's outbox handlers: the outbox rows its commit writes, one each. */
export function outboxHandlerNames(table: HandlerTable, event: Event): string[] {
  return Object.keys(handlersOf(table, event).outbox);
}

function handlersOf(table: HandlerTable, event: Event): CommitHandlers {
  const handlers = table.get(event.constructor as MessageClass);
  if (!handlers) throw new Error(`No handlers registered for event ${event.constructor.name}`);
  return handlers;
}
