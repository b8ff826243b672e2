// Admission control (SPEC section 10): a process serves at most so many requests at once and
// refuses the next at once with a 503, instead of queueing it. Queued requests would all wait
// longer and longer under overload; refused ones can go to another replica or come back later,
// and the admitted ones keep their latency (adaptive_limit.ts says how the limit follows it).
//
// The route that serves a request decides its kind, so admission and the router cannot
// disagree (`POST /Allocate`, `/allocate/` and `POST http://host/allocate` are the router's
// /allocate, hence commands). A command route carries `command` in its own chain, after its
// guard; the JSON body is read before routing (parseJsonBody, bounded by BODY_TIMEOUT_MS), so a
// command's slot is held only while it runs: never while its body arrives, never for a caller
// that fails auth. `reads` asks the router which route will serve everything else.
//
// The price: a refusal now costs a body read, an auth check and Koa's middleware, where the
// gate in front of Koa answered one in 30-32 us of service CPU (45-58 us as Koa's first
// middleware, 2026-11-27). Four clients that never finished their bodies used to hold all of
// MAX_INFLIGHT=4 and refuse every write; counted at the route, they hold nothing.
import type Router from '@koa/router';
import type { Context, Middleware, Next } from 'koa';
import type { PrometheusMetrics } from '../../adapters/prometheus/metrics';
import { AdaptiveLimit } from './adaptive_limit';
import { RETRY_AFTER_SECONDS } from './http_errors';

export interface AdmissionLimits {
  /** Writes: POST /add_batch and /allocate (MAX_INFLIGHT). */
  commands: number;
  /** Everything else but the probes: reads are cheap, so their limit is usually higher. */
  reads: number;
  /** Latency admitted requests should keep (ADMISSION_TARGET_MS); 0 keeps the limits fixed. */
  targetMs: number;
}

type Kind = 'commands' | 'reads';
/** Liveness, readiness and metrics must answer exactly when the process is busiest. */
const NEVER_REFUSED = new Set<unknown>(['/healthz', '/readyz', '/metrics']);

export class Admission {
  private readonly gates: Record<Kind, AdaptiveLimit>;

  constructor(
    limits: AdmissionLimits,
    private readonly metrics: PrometheusMetrics,
  ) {
    this.gates = {
      commands: new AdaptiveLimit(limits.commands, limits.targetMs),
      reads: new AdaptiveLimit(limits.reads, limits.targetMs),
    };
    metrics.watchAdmission(() => ({
      commands: this.gates.commands.current,
      reads: this.gates.reads.current,
    }));
  }

  /** In a command route's chain, after its guard: the slot is held while the command runs. */
  readonly command: Middleware = (ctx, next) => this.admit('commands', ctx, next);

  /**
   * In front of everything that is not a command route or a probe of `router`: the route the
   * router will pick (the first one matching path and method, as its dispatch runs them).
   */
  reads(router: Router): Middleware {
    return (ctx, next) => {
      const route = router
        .match(ctx.path, ctx.method)
        .pathAndMethod.find((layer) => layer.methods.length > 0);
      if (route && (route.stack.includes(this.command) || NEVER_REFUSED.has(route.path))) {
        return next();
      }
      return this.admit('reads', ctx, next);
    };
  }

  private async admit(kind: Kind, ctx: Context, next: Next): Promise<void> {
    const gate = this.gates[kind];
    if (!gate.tryEnter()) {
      this.metrics.refused(kind);
      ctx.status = 503;
      ctx.set('Retry-After', String(RETRY_AFTER_SECONDS));
      ctx.body = { message: `Too many requests in progress (now ${gate.current}); retry soon` };
      return;
    }
    const started = performance.now();
    try {
      await next();
    } finally {
      gate.leave(performance.now() - started);
    }
  }
}
