// Admission control (SPEC section 10): a process serves at most so many requests at once and
// refuses the next at once with a 503, instead of queueing it. Queued requests would all wait
// longer and longer under overload; refused ones can go to another replica or come back later,
// and the admitted ones keep their latency (adaptive_limit.ts says how the limit follows it).
//
// It wraps the HTTP server's request listener, in front of Koa: under overload most requests
// are refused, and each refusal takes CPU from the admitted ones. Measured (service CPU per
// refused POST /allocate, 30,000 refusals, autocannon, 2026-11-27): 45-58 us as the first Koa
// middleware after the liveness probe, 30-32 us here; a bare Node server's 503 costs 22-28 us.
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { PrometheusMetrics } from '../../adapters/prometheus/metrics';
import { AdaptiveLimit } from './adaptive_limit';
import { RETRY_AFTER_SECONDS } from './http_errors';
import { answerJson } from './middleware';

export interface AdmissionLimits {
  /** Writes: POST /add_batch and /allocate (MAX_INFLIGHT). */
  commands: number;
  /** Everything else but the probes: reads are cheap, so their limit is usually higher. */
  reads: number;
  /** Latency admitted requests should keep (ADMISSION_TARGET_MS); 0 keeps the limits fixed. */
  targetMs: number;
}

type Kind = 'commands' | 'reads';
type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;
const COMMANDS = new Set(['POST /add_batch', 'POST /allocate']);
/** Liveness, readiness and metrics must answer exactly when the process is busiest. */
const NEVER_REFUSED = new Set(['/healthz', '/readyz', '/metrics']);

/** `handler` (Koa's callback) behind the limits; it resolves when its response is done. */
export function admissionGate(
  limits: AdmissionLimits,
  metrics: PrometheusMetrics,
  handler: Handler,
): RequestListener {
  const gates: Record<Kind, AdaptiveLimit> = {
    commands: new AdaptiveLimit(limits.commands, limits.targetMs),
    reads: new AdaptiveLimit(limits.reads, limits.targetMs),
  };
  metrics.watchAdmission(() => ({
    commands: gates.commands.current,
    reads: gates.reads.current,
  }));
  return (req, res) => {
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    if (NEVER_REFUSED.has(path)) return void handler(req, res);
    const kind: Kind = COMMANDS.has(`${req.method} ${path}`) ? 'commands' : 'reads';
    const gate = gates[kind];
    if (!gate.tryEnter()) {
      metrics.refused(kind);
      refuse(req, res, gate.current);
      return;
    }
    const started = performance.now();
    void handler(req, res).finally(() => gate.leave(performance.now() - started));
  };
}

function refuse(req: IncomingMessage, res: ServerResponse, limit: number): void {
  const body = JSON.stringify({
    message: `Too many requests in progress (now ${limit}); retry soon`,
  });
  answerJson(req, res, 503, body, { 'Retry-After': String(RETRY_AFTER_SECONDS) });
}
