// The one start-up line that says what this process runs and where (issue 10): what an
// operator looks for first. Secrets and connection strings stay out of it.
import * as config from '../config';
import { tracingRequested } from '../adapters/opentelemetry/tracing_sdk';

export function startupSummary(role: 'all' | 'api' | 'consumer', workers: number): string {
  const api = `http://${config.apiHost()}:${config.apiPort()}`;
  const smtp = config.smtp();
  const onOff = (on: boolean) => (on ? 'on' : 'off');
  const facts: [string, string][] = [
    ['role', role],
    [
      'API',
      role === 'consumer'
        ? 'off'
        : `${api} (docs ${api}/docs${workers > 1 ? `, ${workers} workers` : ''})`,
    ],
    [
      'consumer',
      role === 'api' ? 'off' : `Redis ${config.inboundTransport()} on change_batch_quantity`,
    ],
    ['relay', 'on (one process delivers at a time)'],
    [
      'notifications',
      smtp ? `SMTP ${smtp.host}:${smtp.port}` : 'written to the log (no SMTP_HOST)',
    ],
    ['auth', `API ${onOff(!!config.apiToken())}, admin ${onOff(!!config.adminToken())}`],
    ['tracing', onOff(tracingRequested())],
  ];
  return `allocation started: ${facts.map(([name, value]) => `${name} ${value}`).join('; ')}`;
}
