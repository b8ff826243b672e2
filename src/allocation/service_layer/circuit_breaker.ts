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

  constructor(
    private readonly probeMs: number,
    private readonly log: Logger,
    /**
     * Told on every change, and on a handler's first outcome (so a state a previous process
     * left behind is corrected): the gauge, the shared state. `changed`: it did change.
     */
    private readonly onChange: (handler: string, open: boolean, changed: boolean) => void,
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

  private report(handler: string, open: boolean, changed: boolean): void {
    this.reported.add(handler);
    this.onChange(handler, open, changed);
  }
}
