import { expect } from 'chai';
import { Redis } from 'ioredis';
import { createKnex } from '../../src/allocation/adapters/postgres/db';
import { readinessChecks } from '../../src/allocation/entrypoints/http/readiness';
import type { Logger } from '../../src/allocation/service_layer/ports';
import { testDb } from '../support/db';

/** A logger that keeps what it was told, to see where the details went. */
function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const record = (obj: object, msg: string) => lines.push(`${msg} ${JSON.stringify(obj)}`);
  return { lines, debug: record, info: record, warn: record, error: record };
}

describe('readiness', () => {
  it('names an unreachable dependency without its address, and logs the details', async () => {
    // Nothing listens on port 1: both connections are refused at once.
    const db = createKnex('postgres://allocation@127.0.0.1:1/allocation', 1);
    const redis = new Redis('redis://127.0.0.1:1', {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    redis.on('error', () => undefined);
    const log = recordingLogger();
    try {
      const checks = await readinessChecks(db, redis, log)();

      expect(checks).to.deep.equal({ postgres: 'unreachable', redis: 'unreachable' });
      expect(JSON.stringify(checks)).to.not.contain('127.0.0.1');
      expect(log.lines.some((line) => line.includes('"dependency":"postgres"'))).to.equal(true);
      expect(log.lines.some((line) => line.includes('"dependency":"redis"'))).to.equal(true);
    } finally {
      redis.disconnect();
      await db.destroy();
    }
  });

  it('is ready when both are reachable', async () => {
    const redis = new Redis(process.env.REDIS_URL as string);
    try {
      const checks = await readinessChecks(await testDb(), redis, recordingLogger())();

      expect(checks).to.deep.equal({ postgres: undefined, redis: undefined });
    } finally {
      redis.disconnect();
    }
  });
});
