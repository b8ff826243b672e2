import { expect } from 'chai';
import {
  arrivalPositions,
  sortablePosition,
} from '../../src/allocation/entrypoints/redis/positions';

describe('pub/sub arrival positions', () => {
  it('increase strictly, within one millisecond and when the clock steps back', () => {
    const arrivalPosition = arrivalPositions(); // not the process's: its clock stays real
    const now = 1_800_000_000_000;
    const positions = [now, now, now, now - 5_000, now + 1].map((ms) => arrivalPosition(ms));

    expect([...positions].sort()).to.deep.equal(positions);
    expect(new Set(positions).size).to.equal(positions.length);
    expect(positions[0]).to.equal(sortablePosition(`${now}-0`));
    expect(positions[3]).to.equal(sortablePosition(`${now}-3`));
    expect(positions[4]).to.equal(sortablePosition(`${now + 1}-0`));
  });

  it('compare with stream positions by time: a later arrival sorts after an earlier entry', () => {
    const arrivalPosition = arrivalPositions();
    const ms = 1_800_000_000_000;
    expect(arrivalPosition(ms) > sortablePosition(`${ms - 1}-99`)).to.equal(true);
    expect(arrivalPosition(ms + 10) < sortablePosition(`${ms + 11}-0`)).to.equal(true);
  });
});
