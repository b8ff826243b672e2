// OpenTelemetry tracing (SPEC section 9), configured only by the standard OTEL_* variables.
// The entrypoint imports this module before anything else, because the instrumentations can
// only patch http, koa, pg and ioredis if they are loaded after them. With tracing off, the SDK
// is not even loaded: the service layer's spans (service_layer/tracing.ts) are then the API's
// no-ops.
import type { NodeSDK } from '@opentelemetry/sdk-node';

/**
 * True when the standard variables ask for traces: an OTLP endpoint, or an explicit
 * OTEL_TRACES_EXPORTER other than `none`, and OTEL_SDK_DISABLED not `true`.
 */
export function tracingRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  const exporters = env.OTEL_TRACES_EXPORTER?.trim();
  if (exporters === 'none') return false;
  return Boolean(
    exporters || env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
  );
}

// Polled and probed routes would each make a trace every few seconds and bury the real ones.
const UNTRACED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

let sdk: NodeSDK | undefined;

function startTracing(): void {
  if (sdk || !tracingRequested()) return;
  // Traces only: metrics are Prometheus' (/metrics), logs are pino's. The SDK would otherwise
  // export both over OTLP by default; the standard variables can still turn them on.
  process.env.OTEL_METRICS_EXPORTER ??= 'none';
  process.env.OTEL_LOGS_EXPORTER ??= 'none';
  process.env.OTEL_SERVICE_NAME ??= 'allocation';
  /* eslint-disable @typescript-eslint/no-require-imports -- loaded only when tracing is on */
  const { NodeSDK } =
    require('@opentelemetry/sdk-node') as typeof import('@opentelemetry/sdk-node');
  const { HttpInstrumentation } =
    require('@opentelemetry/instrumentation-http') as typeof import('@opentelemetry/instrumentation-http');
  const { KoaInstrumentation } =
    require('@opentelemetry/instrumentation-koa') as typeof import('@opentelemetry/instrumentation-koa');
  const { PgInstrumentation } =
    require('@opentelemetry/instrumentation-pg') as typeof import('@opentelemetry/instrumentation-pg');
  const { IORedisInstrumentation } =
    require('@opentelemetry/instrumentation-ioredis') as typeof import('@opentelemetry/instrumentation-ioredis');
  /* eslint-enable @typescript-eslint/no-require-imports */
  sdk = new NodeSDK({
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (request) =>
          UNTRACED_PATHS.has((request.url ?? '').split('?')[0]),
      }),
      new KoaInstrumentation(),
      // Statements outside any span are the relay's polling: a trace each would be noise.
      new PgInstrumentation({ requireParentSpan: true }),
      new IORedisInstrumentation({ requireParentSpan: true }),
    ],
  });
  sdk.start();
}

/** Exports the spans still buffered; called on shutdown, before the process exits. */
export async function stopTracing(): Promise<void> {
  await sdk?.shutdown();
}

startTracing();
