import { expect } from 'chai';
import { KnexTimeoutError } from 'knex';
import {
  translateCommitError,
  translateDbError,
} from '../../src/allocation/adapters/postgres/pg_errors';
import {
  ConcurrencyError,
  DuplicateBatch,
  Unavailable,
} from '../../src/allocation/service_layer/errors';

/** An error shaped as pg's DatabaseError: a message and a SQLSTATE in `code`. */
function pgError(code: string, message = `error ${code}`): Error {
  return Object.assign(new Error(message), { code });
}

describe('database error classification', () => {
  const unavailable: [string, unknown][] = [
    ['53300 too many connections', pgError('53300', 'sorry, too many clients already')],
    ['53200 out of memory', pgError('53200')],
    ['53100 disk full', pgError('53100')],
    ['57014 statement timeout', pgError('57014', 'canceling statement due to statement timeout')],
    ['55P03 lock timeout', pgError('55P03', 'canceling statement due to lock timeout')],
    ['25P03 idle in transaction timeout', pgError('25P03')],
    ['57P01 admin shutdown', pgError('57P01')],
    ['57P02 crash shutdown', pgError('57P02')],
    ['57P03 cannot connect now', pgError('57P03')],
    ['42P01 a table not there yet (a replica before the migrations)', pgError('42P01')],
    ['08006 connection failure', pgError('08006')],
    ['08001 cannot connect', pgError('08001')],
    ['ECONNREFUSED', pgError('ECONNREFUSED')],
    ['ECONNRESET', pgError('ECONNRESET')],
    ['ETIMEDOUT', pgError('ETIMEDOUT')],
    ['pool acquire timeout', new KnexTimeoutError('Knex: Timeout acquiring a connection.')],
    ['lost connection', new Error('Connection terminated unexpectedly')],
    ['client-side read timeout', new Error('Query read timeout')],
  ];
  for (const [name, error] of unavailable) {
    it(`${name} is Unavailable, keeping the original as its cause`, () => {
      const translated = translateDbError(error);
      expect(translated).to.be.instanceOf(Unavailable);
      expect((translated as Error).cause).to.equal(error);
    });
  }

  for (const code of ['40001', '40P01']) {
    it(`${code} is a ConcurrencyError (the bus retries it)`, () => {
      expect(translateDbError(pgError(code))).to.be.instanceOf(ConcurrencyError);
    });
  }

  const untouched: [string, unknown][] = [
    ['a unique violation (only its caller knows if it is a race)', pgError('23505')],
    ['a check violation', pgError('23514')],
    ['a syntax error', pgError('42601')],
    ['an error with no code', new Error('boom')],
    ['a code that only looks like a class', pgError('0800')],
    ['something not an error', 'a string'],
    ['undefined', undefined],
  ];
  for (const [name, error] of untouched) {
    it(`${name} is returned as it is`, () => {
      expect(translateDbError(error)).to.equal(error);
    });
  }

  it('an already classified error is returned as it is', () => {
    const error = new Unavailable('down');
    expect(translateDbError(error)).to.equal(error);
  });
});

describe("a failed commit's error", () => {
  /** A unique violation as pg reports it: the constraint and the duplicate key's detail. */
  function uniqueViolation(constraint: string, detail = 'Key (ref)=(b1) already exists.'): Error {
    return Object.assign(pgError('23505'), { constraint, detail });
  }

  it('a lost version race (40001) is a ConcurrencyError', () => {
    expect(translateCommitError(pgError('40001'))).to.be.instanceOf(ConcurrencyError);
  });

  for (const constraint of [
    'batch_refs_pkey',
    'batches_reference_unique',
    'batch_refs_pkey_102040',
  ]) {
    it(`a unique violation of ${constraint} is DuplicateBatch naming the ref`, () => {
      const translated = translateCommitError(uniqueViolation(constraint));
      expect(translated).to.be.instanceOf(DuplicateBatch);
      expect((translated as Error).message).to.equal('Batch b1 already exists');
    });
  }

  it('any other unique violation (a line or message id written at the same moment) is a race', () => {
    expect(translateCommitError(uniqueViolation('processed_messages_pkey'))).to.be.instanceOf(
      ConcurrencyError,
    );
  });

  it('a unique violation without its constraint (how Citus relays a worker error) is a race', () => {
    const relayed = Object.assign(pgError('23505'), {
      detail: 'Key (message_id)=(m1) already exists.',
    });
    expect(translateCommitError(relayed)).to.be.instanceOf(ConcurrencyError);
  });

  it('anything else is returned as it is', () => {
    const error = pgError('23514');
    expect(translateCommitError(error)).to.equal(error);
  });
});
