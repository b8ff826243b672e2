// Admission control (SPEC section 10): a process serves at most so many requests at once and
// refuses the next at once with a 503, instead of queueing it. Queued requests would all wait
// longer and longer under overload; refused ones can go to another replica or come back later,
// and the admitted ones keep their latency.
import type { Context, Next } from 'koa';
import { RETRY_AFTER_SECONDS } from './http_errors';

export interface AdmissionLimits {
  /** Writes: POST /add_batch and /allocate. */
  commands: number;
  /** Everything else but the probes: reads are cheap, so their limit is usually higher. */
  reads: number;
}

const COMMANDS = new Set(['POST /add_batch', 'POST /allocate']);
/** Liveness, readiness and metrics must answer exactly when the process is busiest. */
const NEVER_REFUSED = new Set(['/healthz', '/readyz', '/metrics']);

export function admissionControl(limits: AdmissionLimits) {
  const inFlight = { commands: 0, reads: 0 };
  return async (ctx: Context, next: Next): Promise<void> => {
    if (NEVER_REFUSED.has(ctx.path)) return next();
    const kind = COMMANDS.has(`${ctx.method} ${ctx.path}`) ? 'commands' : 'reads';
    if (inFlight[kind] >= limits[kind]) {
      ctx.status = 503;
      ctx.set('Retry-After', String(RETRY_AFTER_SECONDS));
      ctx.body = { message: `Too many requests in progress (at most ${limits[kind]}); retry soon` };
      return;
    }
    inFlight[kind] += 1;
    try {
      await next();
    } finally {
      inFlight[kind] -= 1;
    }
  };
}
