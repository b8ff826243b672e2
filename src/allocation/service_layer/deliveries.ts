// Pause and resume per delivery handler (SPEC section 9): the two outbound handlers of the
// outbox and the inbound consumer. The state is held where every process reads it (the
// database), so a pause holds across restarts and across processes; a paused handler loses
// nothing: outbound messages wait in the outbox, inbound ones wait in Redis.
export const DELIVERY_HANDLERS = ['line_allocated', 'email', 'inbound'] as const;
export type DeliveryHandler = (typeof DELIVERY_HANDLERS)[number];

export interface DeliveryEntry {
  handler: DeliveryHandler;
  state: 'running' | 'paused' | 'circuit_open';
  /** Messages waiting; null when their store cannot be reached now (Redis down, for inbound). */
  backlog: number | null;
  oldest_age_s: number | null;
}

export interface Backlog {
  count: number;
  oldestAgeSeconds: number;
}

/** What the database says of every handler, and when it was asked (Date.now()). */
export interface ControlState {
  paused: ReadonlySet<string>;
  openCircuits: ReadonlySet<string>;
  readAt: number;
}

/** Where pauses and circuits are held: shared by every process, kept across restarts. */
export interface DeliveryControls {
  /** Pauses and circuits, at most a second old (cached by the adapter). */
  state(): Promise<ControlState>;
  /** The handlers paused now; an answer at most a second old (cached by the adapter). */
  paused(): Promise<ReadonlySet<string>>;
  setPaused(handler: DeliveryHandler, paused: boolean): Promise<void>;
  /** The relay's circuit for `handler` opened or closed (written by the relay's leader). */
  circuitChanged(handler: string, open: boolean): Promise<void>;
  /** Handlers whose circuit the relay last reported open. */
  openCircuits(): Promise<ReadonlySet<string>>;
}

export interface DeliveriesDeps {
  controls: DeliveryControls;
  /** Undelivered outbox messages per handler. */
  outboxBacklog(): Promise<ReadonlyMap<string, Backlog>>;
  /** Inbound messages not yet applied; undefined when Redis cannot tell now. */
  inboundBacklog(): Promise<Backlog | undefined>;
}

export function isDeliveryHandler(name: string): name is DeliveryHandler {
  return (DELIVERY_HANDLERS as readonly string[]).includes(name);
}

export async function listDeliveries(deps: DeliveriesDeps): Promise<DeliveryEntry[]> {
  const [paused, open, outbound, inbound] = await Promise.all([
    deps.controls.paused(),
    deps.controls.openCircuits(),
    deps.outboxBacklog(),
    deps.inboundBacklog().catch(() => undefined),
  ]);
  return DELIVERY_HANDLERS.map((handler) => {
    const backlog =
      handler === 'inbound'
        ? inbound
        : (outbound.get(handler) ?? { count: 0, oldestAgeSeconds: 0 });
    const state = paused.has(handler) ? 'paused' : open.has(handler) ? 'circuit_open' : 'running';
    return {
      handler,
      state,
      backlog: backlog?.count ?? null,
      oldest_age_s: backlog === undefined ? null : Math.round(backlog.oldestAgeSeconds * 10) / 10,
    };
  });
}

/**
 * Pauses (or resumes) one handler and answers its entry. Every process honours the change within
 * a second (DeliveryControls.paused); what waited is delivered in order once resumed.
 */
export async function setDeliveryPaused(
  handler: DeliveryHandler,
  paused: boolean,
  deps: DeliveriesDeps,
): Promise<DeliveryEntry> {
  await deps.controls.setPaused(handler, paused);
  const entries = await listDeliveries(deps);
  return entries.find((entry) => entry.handler === handler) as DeliveryEntry;
}
