import pino, { type Logger } from 'pino';
import { logLevel } from './config';
import { currentCorrelationId } from './correlation';

/** Structured JSON logs; every line written inside a causal chain carries its correlation id. */
export function createLogger(name: string): Logger {
  return pino({
    name,
    level: logLevel(),
    mixin: () => {
      const correlationId = currentCorrelationId();
      return correlationId ? { correlation_id: correlationId } : {};
    },
  });
}
