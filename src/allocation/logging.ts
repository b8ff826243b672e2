import pino, { type Logger, type LoggerOptions } from 'pino';
import pretty from 'pino-pretty';
import { logLevel } from './config';
import { currentCorrelationId } from './correlation';
import { currentTraceId } from './service_layer/tracing';

/**
 * Structured logs; every line written inside a causal chain carries its correlation id, and,
 * with tracing on, the id of its trace (to find the trace from a log line and back). A person
 * at a terminal gets coloured, readable lines; a pipe or a log collector gets JSON lines.
 */
export function createLogger(name: string): Logger {
  const options: LoggerOptions = {
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
  };
  if (!process.stdout.isTTY) return pino(options);
  // In the main thread (no transport worker): a terminal's volume is small, and a worker
  // thread would cost memory under the service's heap ceiling.
  return pino(
    options,
    pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,name' }),
  );
}
