// The relay's circuit per delivery handler (SPEC section 9, "Outages are not failures"): a
// transport that cannot be reached is an outage, not a failure of the message. While a handler's
// circuit is open nothing of it is tried but one probe every probeMs, and no attempt counts
// toward OUTBOX_MAX_ATTEMPTS, so an outage of any length makes no dead letters.
import type { Logger } from './ports';

/** What the relay may do with a handler's messages now. */
export type Pass = 'closed' | 'probe' | 'open';

interface OpenCircuit {
  since: number;
  nextProbeAt: number;
  probing: boolean;
}

export class Circuits {
  private readonly open = new Map<string, OpenCircuit>();
  /** Handlers whose state this process has told onChange at least once (since its start). */
  private readonly reported = new Set<string>();
  /**
   * This process's own writes of a change to the shared store: a state read before one of them
   * was done (or while it is under way) may not show it yet, and is not adopted for that handler.
   */
  private readonly writes = new Map<string, { pending: boolean; doneAt: number }>();

  constructor(
    private readonly probeMs: number,
    private readonly log: Logger,
    /**
     * Told on every change this process sees (`changed`: the gauge and the shared state), and
     * on a handler's first outcome and on adopting the shared state (`changed` false: the
     * gauge only).
     */
    private readonly onChange: (
      handler: string,
      open: boolean,
      changed: boolean,
    ) => Promise<unknown> | void,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * 'closed': deliver as usual. 'probe': the circuit is open and a probe is due: deliver one
   * message, whose outcome says whether the transport is back (only one caller gets it).
   * 'open': try nothing.
   */
  pass(handler: string): Pass {
    const circuit = this.open.get(handler);
    if (!circuit) return 'closed';
    if (circuit.probing || this.now() < circuit.nextProbeAt) return 'open';
    circuit.probing = true;
    return 'probe';
  }

  /** Handlers whose messages need not even be read now: open, with no probe due. */
  shut(): string[] {
    const now = this.now();
    return [...this.open].filter(([, c]) => c.probing || now < c.nextProbeAt).map(([h]) => h);
  }

  anyOpen(): boolean {
    return this.open.size > 0;
  }

  isOpen(handler: string): boolean {
    return this.open.has(handler);
  }

  /** The transport answered (a delivery succeeded, or failed for a reason of its own). */
  reachable(handler: string): void {
    const circuit = this.open.get(handler);
    if (circuit) {
      this.open.delete(handler);
      const openForMs = this.now() - circuit.since;
      this.log.info({ handler, openForMs }, `outbox circuit closed: ${handler} is reachable again`);
    }
    if (circuit || !this.reported.has(handler)) this.report(handler, false, circuit !== undefined);
  }

  /** A delivery found the transport unreachable; `probe` when it was the circuit's probe. */
  unreachable(handler: string, error: unknown, probe: boolean): void {
    const now = this.now();
    const circuit = this.open.get(handler);
    if (circuit) {
      // Deliveries in flight when it opened fail too: only the probe's outcome starts a new wait.
      if (probe) Object.assign(circuit, { probing: false, nextProbeAt: now + this.probeMs });
      return;
    }
    this.open.set(handler, { since: now, nextProbeAt: now + this.probeMs, probing: false });
    this.log.warn(
      { handler, err: error, probeMs: this.probeMs },
      `outbox circuit open: ${handler} is unreachable; probing every ${this.probeMs} ms, nothing counts toward OUTBOX_MAX_ATTEMPTS`,
    );
    this.report(handler, true, true);
  }

  /**
   * Takes on what the shared store says (`open`, read at `readAt`), which another process's relay
   * may have changed: a relay taking over the lease starts with the circuits its predecessor
   * found open (probing at once, not trying everything), and one that no longer delivers
   * does not keep showing a circuit another has closed since. Nothing is logged: the process
   * that saw the change did that.
   */
  adopt(open: ReadonlySet<string>, readAt: number): void {
    for (const handler of new Set([...open, ...this.open.keys()])) {
      const here = this.open.has(handler);
      if (open.has(handler) === here) continue;
      const write = this.writes.get(handler);
      if (write && (write.pending || write.doneAt >= readAt)) continue;
      if (here) this.open.delete(handler);
      else this.open.set(handler, { since: readAt, nextProbeAt: readAt, probing: false });
      this.reported.add(handler);
      void this.onChange(handler, !here, false);
    }
  }

  private report(handler: string, open: boolean, changed: boolean): void {
    this.reported.add(handler);
    const written = this.onChange(handler, open, changed);
    if (!changed || !written) return;
    const write = { pending: true, doneAt: Infinity };
    this.writes.set(handler, write);
    void written.finally(() => Object.assign(write, { pending: false, doneAt: this.now() }));
  }
}
