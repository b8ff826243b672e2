// The test run's Redis, from REDIS_URL (set by the devenv wrapper).
import { Redis } from 'ioredis';

export function redisUrl(): string {
  const url = process.env.REDIS_URL;
  if (!url) throw new Error('REDIS_URL is not set: run the tests through make');
  return url;
}

/** Collects what is published on a channel, to assert on it; close() when done. */
export async function listen(channel: string): Promise<{
  messages: Record<string, unknown>[];
  close(): void;
}> {
  const redis = new Redis(redisUrl());
  const messages: Record<string, unknown>[] = [];
  redis.on('message', (_channel: string, payload: string) => {
    messages.push(JSON.parse(payload) as Record<string, unknown>);
  });
  await redis.subscribe(channel);
  return { messages, close: () => redis.disconnect() };
}
