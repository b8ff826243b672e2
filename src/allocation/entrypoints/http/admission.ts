// Admission control (SPEC section 10): a process serves at most so many requests at once and
// refuses the next at once with a 503, instead of queueing it. Queued requests would all wait
// longer and longer under overload; refused ones can go to another replica or come back later,
// and the admitted ones keep their latency (adaptive_limit.ts says how the limit follows it).
//
// The route that serves a request decides its kind, so admission and the router cannot
// disagree: `atArrival` asks the app's router (on the path Koa itself parses, through the same
// cached parseurl) which route will serve it, so `POST /Allocate`, `/allocate/` and
// `POST http://host/allocate` are commands exactly as the router serves them. A command route
// carries `command` in its own chain, after its guard; the JSON body is read before routing
// (parseJsonBody, bounded by BODY_TIMEOUT_MS): a command holds its slot only while it runs,
// never while its body arrives, never for a caller that fails auth. Four clients that never
// finished their bodies used to hold all of MAX_INFLIGHT=4 and refuse every write.
//
// `atArrival` wraps the HTTP server's request listener, in front of Koa: under overload most
// requests are refused, and each refusal takes CPU from the admitted ones. Measured (service
// CPU per refused POST /allocate, 30,000 refusals, autocannon, 2026-11-27): 45-58 us as the
// first Koa middleware after the liveness probe, 30-32 us here; a bare Node server's 503 costs
// 22-28 us. So a command that arrives when every command slot is taken is refused here, before
// its body; one that finds room takes its slot in its route.
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { default as Router, Layer } from '@koa/router';
import type { Context, Middleware, Next } from 'koa';
import parseUrl from 'parseurl';
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
  readonly command: Middleware = (ctx: Context, next: Next) => this.whileRunning(ctx, next);

  /**
   * `handler` (Koa's callback) behind the limits, each request classified by the route of
   * `router` that will serve it (the first matching path and method, as its dispatch runs them).
   */
  atArrival(router: Router, handler: Handler): RequestListener {
    return (req, res) => {
      const path = pathOf(req);
      if (path === undefined) return answerJson(req, res, 400, INVALID_TARGET);
      const route = routeOf(router, path, req.method ?? 'GET');
      if (route && NEVER_REFUSED.has(route.path)) return void handler(req, res);
      if (route?.stack.includes(this.command)) {
        if (this.gates.commands.hasRoom()) return void handler(req, res); // its route admits it
        return this.refuse('commands', req, res);
      }
      const reads = this.gates.reads;
      if (!reads.tryEnter()) return this.refuse('reads', req, res);
      const started = performance.now();
      void handler(req, res).finally(() => reads.leave(performance.now() - started));
    };
  }

  private async whileRunning(ctx: Context, next: Next): Promise<void> {
    const gate = this.gates.commands;
    if (!gate.tryEnter()) {
      // room at arrival, taken meanwhile by commands whose bodies came first
      this.metrics.refused('commands');
      [ctx.status, ctx.body] = [503, { message: refusal(gate.current) }];
      ctx.set('Retry-After', String(RETRY_AFTER_SECONDS));
      return;
    }
    const started = performance.now();
    try {
      await next();
    } finally {
      gate.leave(performance.now() - started);
    }
  }

  private refuse(kind: Kind, req: IncomingMessage, res: ServerResponse): void {
    this.metrics.refused(kind);
    const body = JSON.stringify({ message: refusal(this.gates[kind].current) });
    answerJson(req, res, 503, body, { 'Retry-After': String(RETRY_AFTER_SECONDS) });
  }
}

const INVALID_TARGET = JSON.stringify({ message: 'The request target is not a valid URL' });

/** The path Koa's ctx.path will read (parseurl caches it on the request); undefined if none. */
function pathOf(req: IncomingMessage): string | undefined {
  try {
    return parseUrl(req)?.pathname ?? '/';
  } catch {
    return undefined; // `http://[::1`, say: Node's url.parse throws, and so would ctx.path
  }
}

/**
 * The route `router` will serve: its first layer with methods that has `method` and matches
 * `path`, by the layer's own test, which is how Router#match picks it. Walked here because
 * Router#match, called on every request, builds arrays of every matching layer and, per layer,
 * the arguments of its (disabled) debug call: GET /allocations/:orderid c16, 2 alternating
 * pairs (2026-12-07), scavenges per 1,000 reads 2.75 / 2.64 -> 2.41 / 2.39, 15,575 / 16,158
 * -> 17,920 / 18,678 reads/s; 3 more pairs, service CPU per read 0.061 / 0.063 / 0.061 ->
 * 0.061 / 0.058 / 0.056 ms.
 */
function routeOf(router: Router, path: string, method: string): Layer | undefined {
  const upper = method.toUpperCase();
  for (const layer of router.stack) {
    if (layer.methods.length > 0 && layer.methods.includes(upper) && layer.match(path)) {
      return layer;
    }
  }
  return undefined;
}

function refusal(limit: number): string {
  return `Too many requests in progress (now ${limit}); retry soon`;
}
