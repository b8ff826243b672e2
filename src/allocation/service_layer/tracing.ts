// Spans and W3C trace context through @opentelemetry/api alone. Without the SDK (tracing off,
// see adapters/opentelemetry/tracing_sdk.ts) no span is made and no context is carried: each
// function here runs `fn` straight away (tracingOn).
import {
  context,
  propagation,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Link,
} from '@opentelemetry/api';

const tracer = trace.getTracer('allocation');

// The provider the API falls back to while no SDK is registered.
const NO_PROVIDER = new ProxyTracerProvider().getDelegate();

/**
 * False while no SDK is registered. The API's no-ops are not free: a span object, a context
 * copied for it, an async frame, per call, twice per delivery (its span and its handler's).
 * Skipping them when off, make bench drain (100,000 messages), 3 alternating pairs
 * (2026-12-07): relay CPU per message 0.038 / 0.040 / 0.038 -> 0.032 / 0.031 / 0.034 ms,
 * 26,253 / 25,962 / 26,617 -> 30,079 / 30,471 / 29,149 messages/s.
 */
function tracingOn(): boolean {
  const provider = trace.getTracerProvider();
  return !(provider instanceof ProxyTracerProvider) || provider.getDelegate() !== NO_PROVIDER;
}

/** Runs `fn` in a new span, a child of the current one; a thrown error marks the span failed. */
export async function inSpan<T>(
  name: string,
  options: { kind?: SpanKind; attributes?: Attributes; links?: Link[] },
  fn: () => Promise<T>,
): Promise<T> {
  if (!tracingOn()) return fn();
  return tracer.startActiveSpan(name, options, async (span) => {
    try {
      return await fn();
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      throw error;
    } finally {
      span.end();
    }
  });
}

/**
 * Runs `fn` as a continuation of the trace a message's `traceparent` names, or outside any
 * trace when it names none (an invalid one is ignored, as W3C says): never in whatever context
 * happened to be current, which belongs to some other message.
 */
export function continuingTrace<T>(traceparent: string | null | undefined, fn: () => T): T {
  if (!tracingOn()) return fn();
  const carrier: Record<string, string> = traceparent ? { traceparent } : {};
  return context.with(propagation.extract(ROOT_CONTEXT, carrier), fn);
}

/**
 * A span for one delivery from the outbox: the messages of one product for one handler. It
 * continues the trace of the change that wrote the first message and links to the traces of
 * the others (several changes delivered together).
 */
export function inDeliverySpan<T>(
  name: string,
  messages: readonly { id: string; traceparent: string | null }[],
  fn: () => Promise<T>,
): Promise<T> {
  if (!tracingOn()) return fn();
  const links: Link[] = [];
  for (const { traceparent } of messages.slice(1)) {
    const linked = traceparent
      ? trace.getSpanContext(propagation.extract(ROOT_CONTEXT, { traceparent }))
      : undefined;
    if (linked && trace.isSpanContextValid(linked)) links.push({ context: linked });
  }
  const attributes = {
    'allocation.delivery': name,
    'messaging.batch.message_count': messages.length,
    'messaging.message.id': messages[0].id,
  };
  return continuingTrace(messages[0].traceparent, () =>
    inSpan(`deliver ${name}`, { attributes, links }, fn),
  );
}

/** The current span's `traceparent`, to store or send with a message; undefined when off. */
export function currentTraceparent(): string | undefined {
  if (!tracingOn()) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent;
}

/**
 * A span for one run of a command's handler (`Allocate`) or an event's (`Allocated.line_allocated`);
 * a run retried after a lost race gets a span of its own.
 */
export function inHandlerSpan<T>(name: string, fn: () => Promise<T>): Promise<T> {
  return inSpan(`handle ${name}`, { attributes: { 'allocation.handler': name } }, fn);
}

/** The current trace id, for log lines; undefined when off or outside a span. */
export function currentTraceId(): string | undefined {
  if (!tracingOn()) return undefined;
  const spanContext = trace.getActiveSpan()?.spanContext();
  return spanContext && trace.isSpanContextValid(spanContext) ? spanContext.traceId : undefined;
}

export { SpanKind };
