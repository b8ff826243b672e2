// One id per causal chain (request -> command -> events -> published messages), carried
// through async calls so log lines and outbound messages can name it without passing it around.
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

const storage = new AsyncLocalStorage<string>();

export function withCorrelationId<T>(id: string | undefined, fn: () => T): T {
  return storage.run(id ?? randomUUID(), fn);
}

export function currentCorrelationId(): string | undefined {
  return storage.getStore();
}
