// The whole service in-process (API app, consumer, relay) on the real PostgreSQL and Redis
// that the test run started, as `make run` wires it.
import type Koa from 'koa';
import type { DeadLetters } from '../../src/allocation/adapters/postgres/dead_letter_store';
import { bootstrap, type Service } from '../../src/allocation/bootstrap';
import type { AuthTokens } from '../../src/allocation/entrypoints/http/auth';
import type { Notifications } from '../../src/allocation/service_layer/ports';
import { testDb } from './db';

export interface TestService {
  app: Koa;
  service: Service;
  deadLetters: DeadLetters;
  stop(): Promise<void>;
}

/** Composed by the service's own bootstrap, on the test run's database. */
export async function startTestService(
  options: { auth?: AuthTokens; notifications?: Notifications } = {},
): Promise<TestService> {
  const service = bootstrap({ db: await testDb(), ...options });
  const consumer = service.consumer();
  await consumer.start();
  service.relay.start(100);
  return {
    app: service.app(),
    service,
    deadLetters: service.deadLetters(),
    stop: async () => {
      await consumer.stop();
      await service.close();
    },
  };
}
