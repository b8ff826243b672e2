import pino, { type Logger, type LoggerOptions } from 'pino';
import pretty from 'pino-pretty';
import { logLevel } from './config';
import { currentTraceId } from './service_layer/tracing';

/**
 * Structured logs; the lines written about a causal chain name its correlation id (the callers
 * pass it: see Chain in messagebus.ts) and, with tracing on, the id of its trace (to find the
 * trace from a log line and back). A person
 * at a terminal gets coloured, readable lines; a pipe or a log collector gets JSON lines.
 */
export function createLogger(name: string): Logger {
  const options: LoggerOptions = {
    name,
    level: logLevel(),
    mixin: () => {
      const traceId = currentTraceId();
      return traceId ? { trace_id: traceId } : {};
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
