import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Metrics } from '../../service_layer/ports';
import { TelemetryGauges, lastGood, type ReadinessProblems } from './telemetry_gauges';
import { registerPubsubGauges, type PubsubQueueGauges } from './pubsub_gauges';

const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** Prometheus metrics, one registry per process, served at GET /metrics. */
export class PrometheusMetrics implements Metrics {
  readonly registry = new Registry();
  private readonly telemetry = new TelemetryGauges(this.registry);
  private readonly handledTotal: Counter;
  private readonly retriesTotal: Counter;
  private readonly deliveredTotal: Counter;
  private readonly httpDuration: Histogram;
  private readonly httpChildren = new Map<string, Histogram.Internal<string>>();
  private readonly refusedTotal: Counter;
  private admissionLimits: () => Record<string, number> = () => ({});

  constructor(outboxBacklog: () => Promise<{ count: number; oldestAgeSeconds: number }>) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.handledTotal = new Counter({
      name: 'allocation_messages_handled_total',
      help: 'Commands and events handled, by type and outcome',
      labelNames: ['type', 'outcome'],
      registers,
    });
    this.retriesTotal = new Counter({
      name: 'allocation_conflict_retries_total',
      help: 'Handlers retried after losing an optimistic-concurrency race',
      labelNames: ['type'],
      registers,
    });
    this.deliveredTotal = new Counter({
      name: 'allocation_outbox_deliveries_total',
      help: 'Outbox deliveries (Redis publish, email), by event type and outcome',
      labelNames: ['type', 'outcome'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'allocation_http_request_duration_seconds',
      help: 'HTTP request latency',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.refusedTotal = new Counter({
      name: 'allocation_http_requests_refused_total',
      help: 'Requests refused by admission control (503 + Retry-After), by kind',
      labelNames: ['kind'],
      registers,
    });
    const admissionLimits = () => this.admissionLimits();
    new Gauge({
      name: 'allocation_admission_limit',
      help: 'Requests admitted at once now, by kind (follows latency, at most MAX_INFLIGHT)',
      labelNames: ['kind'],
      registers,
      collect() {
        for (const [kind, limit] of Object.entries(admissionLimits())) this.set({ kind }, limit);
      },
    });
    // Read on scrape, so the numbers are the database's, whichever process wrote the rows. While
    // the database is down they keep their last value: /metrics must still answer in an outage,
    // when the rest of it (the pub/sub queue, say) matters most.
    let backlog: Promise<{ count: number; oldestAgeSeconds: number }> | undefined;
    let last = { count: 0, oldestAgeSeconds: 0 };
    const readBacklog = () =>
      (backlog ??= outboxBacklog()
        .then((read) => (last = read))
        .catch(() => last)
        .finally(() => (backlog = undefined)));
    new Gauge({
      name: 'allocation_outbox_backlog',
      help: 'Outbox messages not yet delivered (counted up to 10,000)',
      registers,
      async collect() {
        this.set((await readBacklog()).count);
      },
    });
    new Gauge({
      name: 'allocation_outbox_oldest_age_seconds',
      help: 'Age of the oldest undelivered outbox message',
      registers,
      async collect() {
        this.set((await readBacklog()).oldestAgeSeconds);
      },
    });
  }

  /** The pub/sub consumer's queue and spill, read on scrape (pubsub_gauges.ts). */
  watchPubsubQueue(read: () => PubsubQueueGauges): void {
    registerPubsubGauges(this.registry, read);
  }

  handled(type: string, outcome: 'ok' | 'error'): void {
    this.handledTotal.inc({ type, outcome });
  }

  retried(type: string): void {
    this.retriesTotal.inc({ type });
  }

  delivered(type: string, outcome: 'ok' | 'error'): void {
    this.deliveredTotal.inc({ type, outcome });
  }

  /** Refusals bypass observeHttp: they are counted before the request context exists. */
  refused(kind: string): void {
    this.refusedTotal.inc({ kind });
  }

  /** The admission limits now, read on every scrape. */
  watchAdmission(limits: () => Record<string, number>): void {
    this.admissionLimits = limits;
  }

  /**
   * Labelled children are looked up once per (method, route, status) and kept: prom-client's
   * observe(labels) hashes the label object on every call. A method outside the usual set counts
   * as OTHER, so a client inventing methods cannot grow the series without bound.
   */
  observeHttp(method: string, route: string, status: number, seconds: number): void {
    const known = HTTP_METHODS.has(method) ? method : 'OTHER';
    const key = `${known} ${route} ${status}`;
    let child = this.httpChildren.get(key);
    if (!child) {
      child = this.httpDuration.labels(known, route, String(status));
      this.httpChildren.set(key, child);
    }
    child.observe(seconds);
  }

  /** Commit to delivery of one outbox message, both ends on the database's clock. */
  publishDelay(handler: string, seconds: number): void {
    this.telemetry.observePublishDelay(handler, seconds);
  }

  circuitOpen(handler: string, open: boolean): void {
    this.telemetry.circuitOpen(handler, open);
  }

  /** Open dead letters by source, read on scrape (their last value while the database is down). */
  watchDeadLetters(read: () => Promise<Record<string, number>>): void {
    this.telemetry.sources.deadLetters = lastGood(read, {});
  }

  /** The oldest inbound message not yet applied, read on scrape. */
  watchInboundLag(read: () => Promise<number>): void {
    this.telemetry.sources.inboundLag = lastGood(read, 0);
  }

  /** What /readyz answers, on scrape: its checks time out by themselves. */
  watchReadiness(read: () => Promise<ReadinessProblems>): void {
    this.telemetry.sources.readiness = read;
  }
}
