// How many requests of one kind a process admits at once. A fixed limit alone does not bound
// latency: by Little's law an admitted request waits about limit / throughput, and throughput
// falls exactly when the machine is overloaded. Measured (bench overload, 2,000 connections,
// 2026-11-27): with the fixed 256, about 200 allocations/s were admitted and waited p50 884 ms,
// p99 4.2 s. So the limit follows latency, as TCP's window follows loss: when more than a tenth
// of the requests completed in a window took longer than the target, it shrinks by a fifth;
// while requests are being refused and the window was fast, it grows by a tenth. It never goes
// above the configured ceiling, nor below a floor that ordinary clients never reach.
// What it buys (make bench overload, 2,000 connections, back to back on a quiet machine,
// 2026-11-27 19:00): fixed 256 (ADMISSION_TARGET_MS=0): 300 admitted/s, the service's own p99
// under 2.5 s, and a separate client allocating one at a time meanwhile saw p99 1,258 ms, max
// 1,495; adaptive: 246 admitted/s, the service's p99 under 1 s, that client p99 203 ms, max 364
// (a second run: 305 and 350 ms).
//
// Only completions move it, so one stuck request cannot close the door: the others keep
// completing fast. If everything is stuck (the database hangs), completions stop until their
// timeouts end them, slowly, and the limit falls to the floor, which is right: nothing admitted
// then could finish in time anyway.

/**
 * Up to this many requests at once are never refused for latency (only by the ceiling). Twice
 * the 32 clients of the bench's hot scenario and the tests: at a floor of 32, a hot sku whose
 * latency passed the target brought the limit down to exactly its 32 clients, and the moment a
 * load generator's closed connections still had requests in flight, 1,338 new ones were refused.
 */
export const ADAPTIVE_FLOOR = 64;
/** Completions are judged in windows at least this long. */
export const WINDOW_MS = 100;
const SLOW_SHARE = 0.1;
const SHRINK = 0.8;
const GROW = 1.1;

export class AdaptiveLimit {
  private limit: number;
  private inFlight = 0;
  private readonly floor: number;
  private window: { startedAt: number; completed: number; slow: number; refused: boolean };

  /**
   * @param ceiling the configured limit (MAX_INFLIGHT), never exceeded
   * @param targetMs the latency an admitted request should keep; 0 keeps the limit fixed
   */
  constructor(
    private readonly ceiling: number,
    private readonly targetMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.limit = ceiling;
    this.floor = Math.min(ceiling, ADAPTIVE_FLOOR);
    this.window = { startedAt: now(), completed: 0, slow: 0, refused: false };
  }

  /** Requests admitted at once right now. */
  get current(): number {
    return Math.floor(this.limit);
  }

  /** Admits a request (the caller must call `leave` when it ends) or refuses it. */
  tryEnter(): boolean {
    if (!this.hasRoom()) return false;
    this.inFlight += 1;
    return true;
  }

  /** Whether `tryEnter` would admit one now, without admitting it; false counts as a refusal. */
  hasRoom(): boolean {
    if (this.inFlight < this.current) return true;
    this.window.refused = true;
    return false;
  }

  leave(elapsedMs: number): void {
    this.inFlight -= 1;
    if (this.targetMs <= 0) return;
    // A window is judged by the first completion after it ends, on what completed within it.
    const now = this.now();
    if (now - this.window.startedAt >= WINDOW_MS && this.window.completed > 0) {
      this.judge(this.window);
      this.window = { startedAt: now, completed: 0, slow: 0, refused: false };
    }
    this.window.completed += 1;
    if (elapsedMs > this.targetMs) this.window.slow += 1;
  }

  private judge(window: { completed: number; slow: number; refused: boolean }): void {
    if (window.slow > window.completed * SLOW_SHARE) {
      this.limit = Math.max(this.floor, this.limit * SHRINK);
    } else if (window.refused) {
      this.limit = Math.min(this.ceiling, Math.max(this.limit + 1, this.limit * GROW));
    }
  }
}
