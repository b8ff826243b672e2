import { expect } from 'chai';
import { isRedisUnreachable } from '../../src/allocation/adapters/redis/redis_errors';
import { smtpDeliveryError } from '../../src/allocation/adapters/smtp/smtp_errors';
import {
  PermanentDeliveryError,
  TransportUnreachable,
} from '../../src/allocation/service_layer/errors';

const withCode = (message: string, fields: Record<string, unknown>) =>
  Object.assign(new Error(message), fields);

describe('telling an outage from a failed message', () => {
  describe('Redis', () => {
    for (const [what, error] of [
      ['a closed connection', new Error('Connection is closed.')],
      [
        'no connection and no offline queue',
        new Error("Stream isn't writeable and enableOfflineQueue options is false"),
      ],
      ['a command timeout', new Error('Command timed out')],
      [
        'a refused connection',
        withCode('connect ECONNREFUSED 127.0.0.1:6379', { code: 'ECONNREFUSED' }),
      ],
      ['a reset connection', withCode('read ECONNRESET', { code: 'ECONNRESET' })],
      [
        'the retries per request spent',
        Object.assign(new Error('Reached the max retries per request limit (which is 1).'), {
          name: 'MaxRetriesPerRequestError',
        }),
      ],
      [
        'a Redis still loading its data',
        new Error('LOADING Redis is loading the dataset in memory'),
      ],
      ['a cluster that is down', new Error('CLUSTERDOWN The cluster is down')],
    ] as const) {
      it(`is an outage: ${what}`, () => {
        expect(isRedisUnreachable(error)).to.equal(true);
      });
    }

    for (const [what, error] of [
      ['a script error', new Error('ERR Error running script')],
      [
        'a wrong type',
        new Error('WRONGTYPE Operation against a key holding the wrong kind of value'),
      ],
      ['out of memory', new Error('OOM command not allowed when used memory > maxmemory')],
      ['not an error at all', 'Connection is closed.'],
    ] as const) {
      it(`is no outage: ${what}`, () => {
        expect(isRedisUnreachable(error)).to.equal(false);
      });
    }
  });

  describe('SMTP', () => {
    it('a refused connection is an outage (nodemailer says ESOCKET)', () => {
      const error = withCode('connect ECONNREFUSED 127.0.0.1:25', {
        code: 'ESOCKET',
        command: 'CONN',
      });

      expect(smtpDeliveryError(error)).to.be.instanceOf(TransportUnreachable);
    });

    it('a timeout, and a server closing the channel (421), are outages', () => {
      expect(
        smtpDeliveryError(withCode('Connection timeout', { code: 'ETIMEDOUT' })),
      ).to.be.instanceOf(TransportUnreachable);
      expect(
        smtpDeliveryError(withCode('421 closing', { code: 'EENVELOPE', responseCode: 421 })),
      ).to.be.instanceOf(TransportUnreachable);
    });

    it('a 5xx is a permanent failure of the message', () => {
      const error = withCode('Recipient command failed: 550 mailbox unavailable', {
        code: 'EENVELOPE',
        responseCode: 550,
      });

      const classified = smtpDeliveryError(error);

      expect(classified).to.be.instanceOf(PermanentDeliveryError);
      expect((classified as Error).message).to.contain('SMTP 550');
    });

    it('another 4xx is retried and counted, as it was', () => {
      const error = withCode('452 too many recipients', { code: 'EENVELOPE', responseCode: 452 });

      expect(smtpDeliveryError(error)).to.equal(error);
    });
  });
});
