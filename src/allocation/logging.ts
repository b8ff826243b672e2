import pino, { type Logger } from 'pino';
import { logLevel } from './config';
import { currentCorrelationId } from './correlation';
import { currentTraceId } from './service_layer/tracing';

/**
 * Structured JSON logs; every line written inside a causal chain carries its correlation id,
 * and, with tracing on, the id of its trace (to find the trace from a log line and back).
 */
export function createLogger(name: string): Logger {
  return pino({
    name,
    level: logLevel(),
    mixin: () => {
      const correlationId = currentCorrelationId();
      const traceId = currentTraceId();
      return {
        ...(correlationId && { correlation_id: correlationId }),
        ...(traceId && { trace_id: traceId }),
      };
    },
  });
}
