import { expect } from 'chai';
import { sortablePosition } from '../../src/allocation/entrypoints/redis/redis_streamconsumer';

/** Redis's own order of entry ids: by milliseconds, then sequence, both unsigned 64-bit. */
function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt);
  const [bm, bs] = b.split('-').map(BigInt);
  if (am !== bm) return am < bm ? -1 : 1;
  return as === bs ? 0 : as < bs ? -1 : 1;
}

describe('stream positions', () => {
  const MAX = '18446744073709551615'; // 2^64-1: 20 digits, the largest part Redis accepts
  const ids = [
    '0-1',
    '1-0',
    '1-18446744073709551615',
    '9-0',
    '10-0',
    '1732700000000-0',
    '1732700000000-9',
    '1732700000000-10',
    '999999999999999-5', // 15 digits: the old padding's limit
    '1000000000000000-0', // 16 digits
    '99999999999999999999-0',
    `${MAX}-0`,
    `${MAX}-99999999999`,
    `${MAX}-${MAX}`,
  ];

  it('sort as the entry ids do, for 20-digit parts too', () => {
    for (const a of ids) {
      for (const b of ids) {
        const expected = compareIds(a, b);
        const [pa, pb] = [sortablePosition(a), sortablePosition(b)];
        const actual = pa === pb ? 0 : pa < pb ? -1 : 1;
        expect(actual, `${a} vs ${b}`).to.equal(expected);
      }
    }
  });

  it('fit batches.quantity_position (64 characters)', () => {
    expect(sortablePosition(`${MAX}-${MAX}`)).to.have.length(41);
  });
});
