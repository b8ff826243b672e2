// Admission control (SPEC section 10): a process serves at most so many requests at once and
// refuses the next at once with a 503, instead of queueing it. Queued requests would all wait
// longer and longer under overload; refused ones can go to another replica or come back later,
// and the admitted ones keep their latency (adaptive_limit.ts says how the limit follows it).
//
// It runs before every other middleware but the liveness probe, because under overload most
// requests are refused and each refusal takes CPU from the admitted ones: a refusal here costs
// a header and a counter, not the request context, metrics histogram and error mapping.
import type { Context, Next } from 'koa';
import type { PrometheusMetrics } from '../adapters/metrics';
import { AdaptiveLimit } from './adaptive_limit';
import { RETRY_AFTER_SECONDS } from './http_errors';
import { requestIdOf } from './middleware';

export interface AdmissionLimits {
  /** Writes: POST /add_batch and /allocate (MAX_INFLIGHT). */
  commands: number;
  /** Everything else but the probes: reads are cheap, so their limit is usually higher. */
  reads: number;
  /** Latency admitted requests should keep (ADMISSION_TARGET_MS); 0 keeps the limits fixed. */
  targetMs: number;
}

type Kind = 'commands' | 'reads';
const COMMANDS = new Set(['POST /add_batch', 'POST /allocate']);
/** Liveness, readiness and metrics must answer exactly when the process is busiest. */
const NEVER_REFUSED = new Set(['/healthz', '/readyz', '/metrics']);

export function admissionControl(limits: AdmissionLimits, metrics: PrometheusMetrics) {
  const gates: Record<Kind, AdaptiveLimit> = {
    commands: new AdaptiveLimit(limits.commands, limits.targetMs),
    reads: new AdaptiveLimit(limits.reads, limits.targetMs),
  };
  metrics.watchAdmission(() => ({
    commands: gates.commands.current,
    reads: gates.reads.current,
  }));
  return async (ctx: Context, next: Next): Promise<void> => {
    if (NEVER_REFUSED.has(ctx.path)) return next();
    const kind: Kind = COMMANDS.has(`${ctx.method} ${ctx.path}`) ? 'commands' : 'reads';
    const gate = gates[kind];
    if (!gate.tryEnter()) {
      metrics.refused(kind);
      ctx.status = 503;
      ctx.set('Retry-After', String(RETRY_AFTER_SECONDS));
      ctx.set('X-Request-Id', requestIdOf(ctx));
      ctx.body = { message: `Too many requests in progress (now ${gate.current}); retry soon` };
      return;
    }
    const started = performance.now();
    try {
      await next();
    } finally {
      gate.leave(performance.now() - started);
    }
  };
}
