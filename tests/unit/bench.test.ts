// The benchmark's pure parts: its flags, its charts and its reading of pgbench. (The benchmark
// itself runs only in `make bench`: no test depends on a timing.)
import { expect } from 'chai';
import { niceMax, xychart } from '../../bench/charts';
import { parseArgs, SCENARIOS, UsageError } from '../../bench/cli';
import { parsePgbenchOutput } from '../../bench/pgbench';

describe('bench flags', () => {
  it('default to every scenario with the yardsticks', () => {
    const options = parseArgs([]);

    expect([...options.only]).to.deep.equal([...SCENARIOS]);
    expect(options.yardstick).to.equal(true);
    expect(options.durationSeconds).to.equal(10);
    expect(options.bigChangeLines).to.equal(20_000);
    expect(options.overloadConnections).to.equal(2_000);
  });

  it('read values, lists and negations', () => {
    const options = parseArgs([
      '--only',
      'spread,overload',
      '--spread',
      '4,8',
      '--duration',
      '5',
      '--no-yardstick',
      '--overload',
      '500',
    ]);

    expect([...options.only]).to.deep.equal(['spread', 'overload']);
    expect(options.spread).to.deep.equal([4, 8]);
    expect(options.durationSeconds).to.equal(5);
    expect(options.workersDurationSeconds).to.equal(5);
    expect(options.yardstick).to.equal(false);
    expect(options.overloadConnections).to.equal(500);
  });

  it('keep the workers duration when it is given apart', () => {
    const options = parseArgs(['--duration', '5', '--workers-duration', '7']);

    expect(options.workersDurationSeconds).to.equal(7);
  });

  it('profile spread at c16 alone unless told otherwise', () => {
    const options = parseArgs(['--profile']);

    expect([...options.only]).to.deep.equal(['spread']);
    expect(options.spread).to.deep.equal([16]);
  });

  for (const argv of [
    ['--only', 'nope'],
    ['--duration', '0'],
    ['--spread', '4,x'],
    ['--unknown'],
    ['--duration'],
  ]) {
    it(`refuse ${argv.join(' ')}`, () => {
      expect(() => parseArgs(argv)).to.throw(UsageError);
    });
  }

  it('answer --help with the usage (an empty message)', () => {
    expect(() => parseArgs(['--help'])).to.throw(UsageError, /^$/);
  });
});

describe('bench charts', () => {
  it('draw one bar series and one line as a Mermaid xychart', () => {
    const chart = xychart({
      title: 'T',
      yLabel: 'per second',
      categories: ['a c1', 'b c2'],
      bars: [637.4, 1205],
      line: [1154, 3251.2],
    });

    expect(chart.split('\n')).to.deep.equal([
      '```mermaid',
      'xychart-beta',
      '  title "T"',
      '  x-axis ["a c1", "b c2"]',
      '  y-axis "per second" 0 --> 5000',
      '  bar [637, 1205]',
      '  line [1154, 3251]',
      '```',
    ]);
  });

  it('put the axis top at 1, 2 or 5 times a power of ten', () => {
    expect([0.83, 1.2, 3879, 53444].map(niceMax)).to.deep.equal([1, 2, 5000, 100000]);
  });
});

describe('pgbench output', () => {
  it('gives tps, average latency and counts', () => {
    const result = parsePgbenchOutput(
      [
        'number of transactions actually processed: 38790',
        'number of failed transactions: 0 (0.000%)',
        'latency average = 4.123 ms',
        'tps = 3879.012345 (without initial connection time)',
      ].join('\n'),
      16,
    );

    expect(result).to.deep.equal({
      clients: 16,
      tps: 3879.012345,
      latencyAverageMs: 4.123,
      failed: 0,
      processed: 38790,
    });
  });
});
